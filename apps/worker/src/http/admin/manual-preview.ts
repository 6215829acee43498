import { tagSetKey } from '@cdc/protocol';
import { RedisClient, toRedisSinkError } from '@cdc/sink-redis';
import { InvalidateBody } from './admin-bodies';
import { PatternMatches } from './pattern-scan';

const SAMPLES = 10;

/** The answer to a dry run: what a manual invalidation would delete, with counts and samples. Nothing is touched. */
export interface ManualPreview {
  readonly dryRun: true;
  readonly keys: { readonly requested: number; readonly existing: number; readonly samples: readonly string[] };
  readonly tags: ReadonlyArray<{ readonly tag: string; readonly members: number; readonly samples: readonly string[] }>;
  readonly patterns: ReadonlyArray<PatternReport>;
  /** Some pattern matched more keys than maxPatternKeys: a real run would stop there. */
  readonly capped: boolean;
  readonly maxPatternKeys: number;
  readonly cdn: number;
  readonly channels: readonly string[];
}

/** Per pattern: what it matched (or deleted), up to the cap. */
export interface PatternReport {
  readonly pattern: string;
  readonly matched: number;
  readonly capped: boolean;
  readonly reservedSkipped: number;
  readonly samples: readonly string[];
}

export function patternReport(p: PatternMatches): PatternReport {
  return { pattern: p.pattern, matched: p.keys.length, capped: p.capped, reservedSkipped: p.reservedSkipped, samples: p.keys.slice(0, SAMPLES) };
}

/** Reads only (EXISTS, SCARD, SRANDMEMBER; the patterns were already scanned). */
export async function previewManual(
  client: RedisClient,
  body: InvalidateBody,
  patterns: readonly PatternMatches[],
  context: { readonly maxPatternKeys: number; readonly cdn: number; readonly channels: readonly string[] },
): Promise<ManualPreview> {
  try {
    const keys = [...new Set(body.keys ?? [])];
    // One EXISTS per key: keys of a Cluster live in different slots.
    const exists = await Promise.all(keys.map((k) => client.exists(k)));
    const existing = keys.filter((_, i) => exists[i] > 0);
    const tags = await Promise.all(
      [...new Set(body.tags ?? [])].map(async (tag) => {
        const set = tagSetKey(tag);
        const [members, samples] = await Promise.all([client.scard(set), client.srandmember(set, SAMPLES)]);
        return { tag, members, samples: samples.sort() };
      }),
    );
    return {
      dryRun: true,
      keys: { requested: keys.length, existing: existing.length, samples: existing.slice(0, SAMPLES) },
      tags,
      patterns: patterns.map(patternReport),
      capped: patterns.some((p) => p.capped),
      maxPatternKeys: context.maxPatternKeys,
      cdn: context.cdn,
      channels: context.channels,
    };
  } catch (err) {
    throw toRedisSinkError(err, 'previewing a manual invalidation');
  }
}
