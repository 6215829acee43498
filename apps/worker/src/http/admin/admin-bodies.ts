import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { BadEventError, ChangeEvent } from '@cdc/core';
import { parseEventJson } from '@cdc/rules';

/** Items per list in one manual invalidation: big enough for an operator, small enough to keep memory bounded. */
const MAX_ITEMS = 10_000;

const text = (what: string) => z.string().min(1, `a ${what} must not be empty`);
const list = <T extends z.ZodTypeAny>(what: string, item: T) => z.array(item).max(MAX_ITEMS, `at most ${MAX_ITEMS} ${what}s per request`).optional();

const alias = (what: string) =>
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, `${what} must be an alias configured in the environment (letters, digits, '-', '_', '.')`);

/** Same shapes the rules loader enforces for CDN purges (see libs/rules/src/cdn-checks.ts). */
const cloudflareFile = z.string().refine((u) => {
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}, 'must be an absolute http:// or https:// URL');
const cloudflarePrefix = z.string().regex(/^[^/?#\s:]+(\/\S*)?$/, 'must be host/path without a scheme (e.g. shop.example.com/p/)');
const cloudFrontPath = z.string().regex(/^\/[^*]*\*?$/, "must start with '/' and may have '*' only as its last character");

export const invalidateBodySchema = z
  .object({
    /** Answer what would be deleted (counts, samples) and touch nothing; `?dryRun=true` does the same. */
    dryRun: z.boolean().optional(),
    keys: list('key', text('key')),
    tags: list('tag', text('tag')),
    patterns: list('pattern', text('pattern')),
    urls: z
      .object({
        cloudflare: z
          .object({ zone: alias('zone'), files: list('file', cloudflareFile), tags: list('tag', text('tag')), prefixes: list('prefix', cloudflarePrefix) })
          .strict()
          .optional(),
        cloudfront: z
          .object({ distribution: alias('distribution'), paths: z.array(cloudFrontPath).min(1).max(MAX_ITEMS) })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const cf = body.urls?.cloudflare;
    if (cf && !cf.files?.length && !cf.tags?.length && !cf.prefixes?.length) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['urls', 'cloudflare'], message: 'give at least one of files, tags, prefixes' });
    }
    if (!body.keys?.length && !body.tags?.length && !body.patterns?.length && !cf && !body.urls?.cloudfront) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [], message: 'nothing to invalidate: give keys, tags, patterns or urls' });
    }
  });

export type InvalidateBody = z.infer<typeof invalidateBodySchema>;

/** Validates a request body against a zod schema; a 400 names the first bad field and what was expected. */
export class ZodBodyPipe<T extends z.ZodTypeAny> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    const parsed = this.schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    throw new BadRequestException(parsed.error.issues.map(describeIssue));
  }
}

function describeIssue(issue: z.ZodIssue): string {
  const field = ['body', ...issue.path].join('.');
  if (issue.code === 'unrecognized_keys') return `${field}: unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return `${field}: ${issue.message}`;
}

/** The explain body: an event as `cdc-invalidator explain --event` takes it. */
@Injectable()
export class EventBodyPipe implements PipeTransform<unknown, ChangeEvent> {
  transform(value: unknown): ChangeEvent {
    try {
      return parseEventJson(value);
    } catch (err) {
      if (err instanceof BadEventError) throw new BadRequestException(err.message);
      throw err;
    }
  }
}
