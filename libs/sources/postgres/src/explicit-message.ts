import { ExplicitInvalidation } from '@cdc/core';
import { z } from 'zod';

/**
 * The content of `pg_logical_emit_message(true, '<prefix>', '{"keys":[..],"tags":[..],"patterns":[..]}')`.
 * Every field is optional (default empty); unknown fields are rejected so that a typo
 * (`"key"`) is dead-lettered instead of silently invalidating nothing.
 */
const explicitSchema = z
  .object({
    keys: z.array(z.string().min(1)).default([]),
    tags: z.array(z.string().min(1)).default([]),
    patterns: z.array(z.string().min(1)).default([]),
  })
  .strict();

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type ExplicitParseResult = { ok: true; explicit: ExplicitInvalidation } | { ok: false; reason: string; text: string };

export function parseExplicitMessage(content: Uint8Array): ExplicitParseResult {
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return { ok: false, reason: 'message content is not valid UTF-8', text: Buffer.from(content).toString('base64') };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `message content is not JSON: ${(err as Error).message}`, text };
  }
  const parsed = explicitSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
    return { ok: false, reason: `message content is not {"keys":[],"tags":[],"patterns":[]}: ${why}`, text };
  }
  return { ok: true, explicit: parsed.data };
}
