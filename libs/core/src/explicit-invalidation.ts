import { z } from 'zod';
import { hasGlobSyntax, literalPrefix } from '@cdc/protocol';
import { ExplicitInvalidation } from './change-event';
import { counter } from './metrics';

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

/** Default logical-message prefix of explicit invalidations, for both sources (PG_MESSAGE_PREFIX, KAFKA_MESSAGE_PREFIX). */
export const DEFAULT_MESSAGE_PREFIX = 'cache-invalidation';

export type ExplicitKind = 'keys' | 'tags' | 'patterns';
export const EXPLICIT_KINDS: readonly ExplicitKind[] = ['keys', 'tags', 'patterns'];

/**
 * What an explicit invalidation may ask for. Anyone who can run SQL can emit a logical
 * message (no privilege is needed), so the worker, not the sender, decides what it applies.
 */
export interface ExplicitInvalidationPolicy {
  /** Kinds a message may carry (EXPLICIT_INVALIDATION_KINDS). Default keys and tags: patterns are off. */
  readonly allow: ReadonlySet<ExplicitKind>;
  /** When non-empty, every key, tag and pattern must start with one of these (EXPLICIT_INVALIDATION_PREFIXES). */
  readonly prefixes: readonly string[];
  /** Most keys + tags + patterns in one message (EXPLICIT_INVALIDATION_MAX_ITEMS). Default 1000. */
  readonly maxItems: number;
  /** Literal characters a pattern keeps before its first glob character (PATTERN_MIN_PREFIX). Default 3. */
  readonly minPatternPrefix: number;
}

export const DEFAULT_EXPLICIT_POLICY: ExplicitInvalidationPolicy = Object.freeze({
  allow: new Set<ExplicitKind>(['keys', 'tags']),
  prefixes: Object.freeze([]) as readonly string[],
  maxItems: 1000,
  minPatternPrefix: 3,
});

/** Why a message was refused: a closed set, so it can be a metric label. */
export type ExplicitRefusal = 'malformed' | 'kind-not-allowed' | 'prefix-not-allowed' | 'too-many-items' | 'below-pattern-floor';

export type ExplicitInvalidationResult =
  | { ok: true; explicit: ExplicitInvalidation }
  | { ok: false; refusal: ExplicitRefusal; reason: string };

const refused = counter(
  'cdc_explicit_invalidations_refused_total',
  'Explicit invalidation messages refused (dead-lettered, nothing applied), by source and refusal (malformed, kind-not-allowed, prefix-not-allowed, too-many-items, below-pattern-floor)',
  ['source', 'refusal'],
);

/**
 * Validates parsed JSON against the shape and the policy; the reason names each bad field.
 * A message is applied whole or not at all: half of an invalidation would leave the sender
 * believing it happened. Every refusal is counted per source (`postgres`, `kafka`).
 */
export function parseExplicitInvalidation(
  json: unknown,
  policy: ExplicitInvalidationPolicy = DEFAULT_EXPLICIT_POLICY,
  source = 'unknown',
): ExplicitInvalidationResult {
  const result = check(json, policy);
  if (!result.ok) refused.inc({ source, refusal: result.refusal });
  return result;
}

/** Counts a message refused before it could be parsed (not UTF-8, not JSON). */
export function countMalformedExplicitInvalidation(source: string): void {
  refused.inc({ source, refusal: 'malformed' });
}

function check(json: unknown, policy: ExplicitInvalidationPolicy): ExplicitInvalidationResult {
  const parsed = explicitInvalidationSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
    return { ok: false, refusal: 'malformed', reason: `not {"keys":[],"tags":[],"patterns":[]}: ${why}` };
  }
  const explicit = parsed.data;
  const forbidden = EXPLICIT_KINDS.filter((kind) => explicit[kind].length > 0 && !policy.allow.has(kind));
  if (forbidden.length > 0) {
    const allowed = EXPLICIT_KINDS.filter((k) => policy.allow.has(k));
    return {
      ok: false,
      refusal: 'kind-not-allowed',
      reason: `refused by policy: explicit invalidations may not carry ${forbidden.join(', ')} (EXPLICIT_INVALIDATION_KINDS allows ${allowed.length ? allowed.join(', ') : 'nothing'})`,
    };
  }
  const items = explicit.keys.length + explicit.tags.length + explicit.patterns.length;
  if (items > policy.maxItems) {
    return { ok: false, refusal: 'too-many-items', reason: `refused by policy: ${items} items, more than EXPLICIT_INVALIDATION_MAX_ITEMS=${policy.maxItems}` };
  }
  if (policy.prefixes.length > 0) {
    for (const kind of EXPLICIT_KINDS) {
      // A pattern is judged by its literal prefix: `a*` does not start with `ab` even if some keys it matches do.
      const outside = explicit[kind].find((v) => !policy.prefixes.some((p) => (kind === 'patterns' ? literalPrefix(v) : v).startsWith(p)));
      if (outside !== undefined) {
        return {
          ok: false,
          refusal: 'prefix-not-allowed',
          reason: `refused by policy: ${kind} entry ${JSON.stringify(outside)} does not start with an allowed prefix (EXPLICIT_INVALIDATION_PREFIXES=${policy.prefixes.join(',')})`,
        };
      }
    }
  }
  const wide = explicit.patterns.find((p) => hasGlobSyntax(p) && literalPrefix(p).length < policy.minPatternPrefix);
  if (wide !== undefined) {
    return {
      ok: false,
      refusal: 'below-pattern-floor',
      reason: `refused by policy: pattern ${JSON.stringify(wide)} keeps fewer than PATTERN_MIN_PREFIX=${policy.minPatternPrefix} literal characters before its first glob character`,
    };
  }
  return { ok: true, explicit };
}
