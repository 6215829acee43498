/**
 * Turns a column value into the text a template interpolates. Values keep the types the
 * sources give them (see ChangeEvent `Row`): int8/numeric arrive as strings, json as
 * objects, timestamps as ISO strings or Dates.
 */
export function formatValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      return toJson(value);
  }
}

/** JSON that survives bigint (as a decimal string) instead of throwing on it. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '';
}
