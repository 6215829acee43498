import { formatValue, toJson } from './value-format';

/**
 * Template filters: `{after.slug|lower|urlencode}`. Each takes the previous stage's value
 * (the raw column value for the first filter) and returns text.
 */
export type TemplateFilter = (value: unknown) => string;

const FILTERS: ReadonlyMap<string, TemplateFilter> = new Map<string, TemplateFilter>([
  ['lower', (v) => formatValue(v).toLowerCase()],
  ['upper', (v) => formatValue(v).toUpperCase()],
  ['trim', (v) => formatValue(v).trim()],
  ['urlencode', (v) => encodeURIComponent(formatValue(v))],
  // On the raw value: strings get quotes, objects keep their structure.
  ['json', (v) => toJson(v)],
]);

export const FILTER_NAMES: readonly string[] = [...FILTERS.keys()];

export function findFilter(name: string): TemplateFilter | undefined {
  return FILTERS.get(name);
}
