import { z } from 'zod';
import { ExplicitInvalidation } from './change-event';

/**
 * The body of an explicit invalidation (`pg_logical_emit_message(true, '<prefix>', '{"keys":[..]}')`,
 * or the same message relayed by Debezium). Every field is optional (default empty); unknown
 * fields are rejected so that a typo (`"key"`) is dead-lettered instead of silently invalidating nothing.
 */
const explicitInvalidationSchema = z
  .object({
    keys: z.array(z.string().min(1)).default([]),
    tags: z.array(z.string().min(1)).default([]),
    patterns: z.array(z.string().min(1)).default([]),
  })
  .strict();

export type ExplicitInvalidationResult = { ok: true; explicit: ExplicitInvalidation } | { ok: false; reason: string };

/** Validates parsed JSON; the reason names each bad field. */
export function parseExplicitInvalidation(json: unknown): ExplicitInvalidationResult {
  const parsed = explicitInvalidationSchema.safeParse(json);
  if (parsed.success) return { ok: true, explicit: parsed.data };
  const why = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
  return { ok: false, reason: `not {"keys":[],"tags":[],"patterns":[]}: ${why}` };
}
