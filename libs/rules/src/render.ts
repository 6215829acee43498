import { MissingValue, UNKNOWN } from '@cdc/core';
import { ValueEncoder, urlSegmentEncode } from './escaping';
import { findFilter } from './filters';
import { EventRows, NO_SIDE, SIDE_NOT_LOGGED } from './event-rows';
import { ParsedTemplate, Placeholder } from './template';
import { formatValue } from './value-format';

/** A template bound to its output context: `encode` escapes interpolated values (glob, URL segment) or is null. */
export interface CompiledTemplate extends ParsedTemplate {
  readonly encode: ValueEncoder | null;
  /** Precomputed text when the template has no placeholders. */
  readonly constant: string | undefined;
  /**
   * A placeholder that renders empty makes the whole template yield nothing (counted as
   * MissingValue 'empty'): set where an empty value widens the purge, i.e. patterns
   * (`search:{q}:*` would become `search::*`), CDN prefixes and wildcard paths.
   */
  readonly refuseEmpty: boolean;
}

export interface BindOptions {
  readonly refuseEmpty?: boolean;
}

export function bindTemplate(t: ParsedTemplate, encode: ValueEncoder | null, options: BindOptions = {}): CompiledTemplate {
  const bound = encode === urlSegmentEncode ? withoutUrlencode(t) : t;
  return { ...bound, encode, constant: t.placeholders.length === 0 ? t.parts.join('') : undefined, refuseEmpty: options.refuseEmpty ?? false };
}

/**
 * In a URL template every value is segment-encoded at render time, so a `urlencode`
 * filter there would encode it twice (`a b` → `a%2520b`). The filter is dropped from
 * such placeholders: the segment encoder already does its job, and more strictly.
 */
function withoutUrlencode(t: ParsedTemplate): ParsedTemplate {
  const urlencode = findFilter('urlencode');
  if (!t.placeholders.some((p) => p.filters.includes(urlencode!))) return t;
  const placeholders: Placeholder[] = [];
  const parts = t.parts.map((part) => {
    if (typeof part === 'string') return part;
    const p: Placeholder = { ...part, filters: part.filters.filter((f) => f !== urlencode) };
    placeholders.push(p);
    return p;
  });
  return { source: t.source, parts, placeholders };
}

/**
 * Renders one template for one event: string building only. Returns undefined when a
 * placeholder has no value: the side does not exist (silent), SQL NULL (silent: no
 * cache entry is keyed by a missing value), an encoder refusing the value (silent, see
 * escaping.ts), a value the event cannot supply, or an empty value where the template
 * refuses one (both pushed onto `missing`).
 */
export function renderTemplate(t: CompiledTemplate, rows: EventRows, rule: string, missing: MissingValue[]): string | undefined {
  if (t.constant !== undefined) return t.constant;
  let out = '';
  for (const part of t.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = rows.get(part.side, part.column);
    if (value === null || value === undefined || value === NO_SIDE) return undefined;
    if (value === UNKNOWN || value === SIDE_NOT_LOGGED) {
      missing.push({ rule, template: t.source, column: part.column, reason: value === UNKNOWN ? 'unknown' : 'absent-side' });
      return undefined;
    }
    let text: unknown = value;
    for (const filter of part.filters) text = filter(text);
    const formatted = typeof text === 'string' ? text : formatValue(text);
    const encoded = t.encode ? t.encode(formatted) : formatted;
    if (encoded === undefined) return undefined;
    if (encoded === '' && t.refuseEmpty) {
      missing.push({ rule, template: t.source, column: part.column, reason: 'empty' });
      return undefined;
    }
    out += encoded;
  }
  return out;
}
