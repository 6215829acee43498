import { MissingValue, UNKNOWN } from '@cdc/core';
import { ValueEncoder } from './escaping';
import { EventRows, NO_SIDE, SIDE_NOT_LOGGED } from './event-rows';
import { ParsedTemplate } from './template';
import { formatValue } from './value-format';

/** A template bound to its output context: `encode` escapes interpolated values (glob, URL segment) or is null. */
export interface CompiledTemplate extends ParsedTemplate {
  readonly encode: ValueEncoder | null;
  /** Precomputed text when the template has no placeholders. */
  readonly constant: string | undefined;
}

export function bindTemplate(t: ParsedTemplate, encode: ValueEncoder | null): CompiledTemplate {
  return { ...t, encode, constant: t.placeholders.length === 0 ? t.parts.join('') : undefined };
}

/**
 * Renders one template for one event: string building only. Returns undefined when a
 * placeholder has no value: the side does not exist (silent), SQL NULL (silent: no
 * cache entry is keyed by a missing value), an encoder refusing the value (silent, see
 * escaping.ts), or a value the event cannot supply (pushed onto `missing`).
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
    out += encoded;
  }
  return out;
}
