/**
 * Escapers for interpolated row values (promise 7: a row value cannot widen a pattern
 * delete or change a URL's host). Applied to the placeholder's value only, never to the
 * static text the rules author wrote.
 */
import { globEscape as protocolGlobEscape } from '@cdc/protocol';

/** Output context of a template: where its text goes decides how values are escaped. */
export type ValueEncoder = (value: string) => string | undefined;

/** Redis glob syntax: `* ? [ ] \` get a backslash so the value matches only itself (one implementation, shared with the client). */
export const globEscape: ValueEncoder = protocolGlobEscape;

const RFC3986_EXTRA = /[!'()*]/g;

/**
 * One URL path segment (or query value): encodeURIComponent plus `! ' ( ) *`, which it
 * leaves alone but which matter here (`*` is CloudFront's wildcard). `/ ? # @ :` and `%`
 * are encoded, so the value stays inside its segment. A value that is exactly `.` or `..`
 * yields nothing: URL parsers resolve such a segment to the parent path, so it cannot
 * name a cached object and would widen the purge.
 */
export const urlSegmentEncode: ValueEncoder = (value) => {
  if (value === '.' || value === '..') return undefined;
  return encodeURIComponent(value).replace(RFC3986_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
};
