import { hasGlobSyntax, literalPrefix } from '@cdc/protocol';
import { ParsedTemplate } from './template';

/** Default of PATTERN_MIN_PREFIX: `ab*` is refused, `abc*` and `p:1*` are kept. */
export const DEFAULT_MIN_PATTERN_PREFIX = 3;

/**
 * The floor under every pattern delete: the literal text before its first glob character
 * must be at least `min` characters long, so that no rule, whatever its row, can SCAN-delete
 * a whole keyspace (`*`, `?*`, `[a-z]*`).
 *
 * Checked once at load on the narrowest text the template can render: interpolated values
 * are glob-escaped (always literal) and never empty (render.ts refuseEmpty), so each
 * placeholder adds at least one literal character. A template whose static text has no glob
 * character matches one key only and needs no floor.
 */
export function checkPatternFloor(t: ParsedTemplate, min: number): string | undefined {
  if (!t.parts.some((p) => typeof p === 'string' && hasGlobSyntax(p))) return undefined;
  let guaranteed = 0;
  for (const part of t.parts) {
    if (typeof part !== 'string') {
      guaranteed += 1;
      continue;
    }
    guaranteed += literalPrefix(part).length;
    if (hasGlobSyntax(part)) break;
  }
  if (guaranteed >= min) return undefined;
  return (
    `pattern '${t.source}' keeps ${guaranteed} literal character(s) before its first glob character; ` +
    `at least ${min} are required (PATTERN_MIN_PREFIX), so that no row can turn it into a delete of the whole keyspace (e.g. 'search:products:*')`
  );
}

