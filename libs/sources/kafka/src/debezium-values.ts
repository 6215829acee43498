import { Row, UNKNOWN, parseJsonValue } from '@cdc/core';

/** One field of a Kafka Connect JSON schema (JsonConverter with schemas.enable=true). */
export interface ConnectField {
  readonly field: string;
  readonly type: string;
  readonly name?: string;
  readonly optional?: boolean;
  readonly parameters?: Readonly<Record<string, string>>;
  readonly fields?: readonly ConnectField[];
}

export interface ConnectSchema {
  readonly type: string;
  readonly name?: string;
  readonly fields?: readonly ConnectField[];
}

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
const VARIABLE_SCALE_DECIMAL = 'io.debezium.data.VariableScaleDecimal';
const JSON_TYPE = 'io.debezium.data.Json';
const MILLI_TIMESTAMP = new Set(['io.debezium.time.Timestamp', 'org.apache.kafka.connect.data.Timestamp']);
const MICRO_TIMESTAMP = 'io.debezium.time.MicroTimestamp';
const NANO_TIMESTAMP = 'io.debezium.time.NanoTimestamp';
const EPOCH_DAYS = new Set(['io.debezium.time.Date', 'org.apache.kafka.connect.data.Date']);

/**
 * Decodes Debezium's default decimal encoding (decimal.handling.mode=precise): the
 * unscaled value as big-endian two's-complement bytes, base64 in JSON, and the scale
 * from the schema. Returns the exact decimal as a string (numeric is a string in a Row).
 */
export function decodeDecimal(base64: string, scale: number): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) return '0';
  // Up to 6 bytes (48 bits) a double holds the unscaled value exactly: no BigInt needed.
  if (bytes.length <= 6) {
    const unscaled = bytes.readIntBE(0, bytes.length);
    return withScale(String(unscaled < 0 ? -unscaled : unscaled), unscaled < 0, scale);
  }
  let unscaled = 0n;
  for (const b of bytes) unscaled = (unscaled << 8n) | BigInt(b);
  if (bytes[0] & 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
  const negative = unscaled < 0n;
  return withScale((negative ? -unscaled : unscaled).toString(), negative, scale);
}

/** Places the decimal point `scale` digits from the right of the unscaled magnitude. */
function withScale(magnitude: string, negative: boolean, scale: number): string {
  let digits = magnitude;
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  } else if (scale < 0) {
    digits += '0'.repeat(-scale);
  }
  return negative ? `-${digits}` : digits;
}

/**
 * JavaScript's Date range (±8.64e15 ms, about ±275,000 years). Debezium encodes Postgres's
 * `infinity`/`-infinity` timestamps as PGStatement.DATE_POSITIVE/NEGATIVE_INFINITY
 * (±9223372036825200000, read as µs or ms by the schema), far outside it; Postgres's own
 * range ends at year 294276, just beyond it. Anything outside becomes `infinity` /
 * `-infinity`, which is what the Postgres source hands on for these values.
 */
const MAX_DATE_MS = 8_640_000_000_000_000n;

/**
 * Debezium 3.x writes `date 'infinity'` as epoch day -2147472692 and `'-infinity'` as
 * -2147472691 (its POSITIVE/NEGATIVE_INFINITY_LOCAL_DATE, debezium/dbz#2524), both far below
 * the Date range; older versions write ±106751991 (the timestamp constants in days).
 */
const INFINITY_EPOCH_DAYS = new Map<number, string>([
  [-2147472692, 'infinity'],
  [-2147472691, '-infinity'],
]);

/** ISO-8601 UTC text for an epoch value in the given unit, keeping sub-millisecond digits. */
function isoFromEpoch(value: number | string, unitsPerMs: bigint): string {
  const v = BigInt(value);
  if (v / unitsPerMs > MAX_DATE_MS) return 'infinity';
  if (v / unitsPerMs < -MAX_DATE_MS) return '-infinity';
  let ms = v / unitsPerMs;
  let rest = v % unitsPerMs;
  if (rest < 0n) {
    ms -= 1n;
    rest += unitsPerMs;
  }
  const iso = new Date(Number(ms)).toISOString();
  if (unitsPerMs === 1n || rest === 0n) return iso;
  const width = unitsPerMs === 1000n ? 3 : 6;
  return `${iso.slice(0, -1)}${rest.toString().padStart(width, '0')}Z`;
}

function dateFromEpochDays(days: number): string {
  const infinity = INFINITY_EPOCH_DAYS.get(days);
  if (infinity) return infinity;
  const ms = days * 86_400_000;
  if (ms > Number(MAX_DATE_MS)) return 'infinity';
  if (ms < -Number(MAX_DATE_MS)) return '-infinity';
  return new Date(ms).toISOString().slice(0, 10);
}

/** What a field's schema says to do with its values; worked out once per schema, not per value. */
const enum Kind {
  Plain,
  Decimal,
  VariableScaleDecimal,
  Json,
  MilliTimestamp,
  MicroTimestamp,
  NanoTimestamp,
  EpochDays,
  Int64,
}

/** One schema field, compiled: how its values become Row values. */
export interface FieldCodec {
  readonly field: string;
  readonly kind: Kind;
  /** Connect type `bytes`: the placeholder comes base64-encoded. */
  readonly bytes: boolean;
  /** Decimal scale (Decimal only). */
  readonly scale: number;
}

/** The compiled fields of a struct (a row), in schema order. */
export interface RowCodec {
  readonly fields: readonly FieldCodec[];
  readonly names: ReadonlySet<string>;
}

function kindOf(f: ConnectField): Kind {
  const name = f.name;
  if (name === DECIMAL) return Kind.Decimal;
  if (name === VARIABLE_SCALE_DECIMAL) return Kind.VariableScaleDecimal;
  if (name === JSON_TYPE) return Kind.Json;
  if (name !== undefined) {
    if (MILLI_TIMESTAMP.has(name)) return Kind.MilliTimestamp;
    if (name === MICRO_TIMESTAMP) return Kind.MicroTimestamp;
    if (name === NANO_TIMESTAMP) return Kind.NanoTimestamp;
    if (EPOCH_DAYS.has(name)) return Kind.EpochDays;
    return Kind.Plain;
  }
  // int8 is a string in a Row: exact, like the Postgres source (exact-json keeps big ones as text).
  return f.type === 'int64' ? Kind.Int64 : Kind.Plain;
}

export function compileFields(fields: readonly ConnectField[]): RowCodec {
  const codecs = fields.map((f) => ({ field: f.field, kind: kindOf(f), bytes: f.type === 'bytes', scale: Number(f.parameters?.scale ?? 0) }));
  return { fields: codecs, names: new Set(codecs.map((c) => c.field)) };
}

/** The Row form of one column value, using the compiled schema field when the message embeds one. */
function convertValue(value: unknown, codec: FieldCodec | undefined, unavailable: string, unavailableBase64: string): unknown {
  if (value === null || value === undefined) return null;
  if (value === unavailable) return UNKNOWN;
  // Unchanged TOASTed arrays come as a one-element array holding the placeholder.
  if (Array.isArray(value) && value.length === 1 && value[0] === unavailable) return UNKNOWN;
  if (!codec) return value;
  const kind = codec.kind;
  if (kind === Kind.Decimal && typeof value === 'string') {
    if (value === unavailableBase64) return UNKNOWN;
    return decodeDecimal(value, codec.scale);
  }
  if (kind === Kind.VariableScaleDecimal && typeof value === 'object') {
    const v = value as { scale?: number; value?: string };
    if (typeof v.value === 'string') return decodeDecimal(v.value, Number(v.scale ?? 0));
    return value;
  }
  if (codec.bytes && value === unavailableBase64) return UNKNOWN;
  switch (kind) {
    case Kind.Json:
      if (typeof value !== 'string') return value;
      try {
        return parseJsonValue(value); // integers beyond 2^53 inside stay exact, as in the Postgres source
      } catch {
        return value;
      }
    case Kind.MilliTimestamp:
      return typeof value === 'number' || typeof value === 'string' ? isoFromEpoch(value, 1n) : value;
    case Kind.MicroTimestamp:
      return typeof value === 'number' || typeof value === 'string' ? isoFromEpoch(value, 1000n) : value;
    case Kind.NanoTimestamp:
      return typeof value === 'number' || typeof value === 'string' ? isoFromEpoch(value, 1_000_000n) : value;
    case Kind.EpochDays:
      return typeof value === 'number' ? dateFromEpochDays(value) : value;
    case Kind.Int64:
      return typeof value === 'number' ? String(value) : value;
    default:
      return value;
  }
}

/**
 * Converts a Debezium row (`before`/`after` or a flattened record) to a Row: placeholders
 * for unchanged TOAST values become UNKNOWN, and with an embedded schema decimals, int8,
 * json and temporal types get their Row form. Keys listed in `drop` are left out. Copies.
 */
export function convertRow(
  row: Readonly<Record<string, unknown>>,
  codec: RowCodec | undefined,
  unavailable: string,
  drop?: (column: string) => boolean,
): Row {
  const unavailableBase64 = base64Of(unavailable);
  const out: Record<string, unknown> = {};
  if (codec) {
    for (const f of codec.fields) {
      if (!(f.field in row) || drop?.(f.field)) continue;
      out[f.field] = convertValue(row[f.field], f, unavailable, unavailableBase64);
    }
    // Columns the schema does not describe (should not happen) are kept as they are.
    for (const k of Object.keys(row)) if (!(k in out) && !drop?.(k)) out[k] = convertValue(row[k], undefined, unavailable, unavailableBase64);
    return out;
  }
  for (const k of Object.keys(row)) {
    if (drop?.(k)) continue;
    out[k] = convertValue(row[k], undefined, unavailable, unavailableBase64);
  }
  return out;
}

/**
 * The same conversion as `convertRow` without a copy: `row` is a freshly parsed object the
 * caller owns (the hot path, one fewer object per row side). A value changes only where the
 * schema types it or a placeholder can be in it (`mayHavePlaceholder`: the message text holds one).
 */
export function convertRowInPlace(row: Record<string, unknown>, codec: RowCodec | undefined, unavailable: string, mayHavePlaceholder: boolean): Row {
  const unavailableBase64 = base64Of(unavailable);
  if (codec) {
    const fields = codec.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      const v = row[f.field];
      if (v === undefined) continue;
      const c = convertValue(v, f, unavailable, unavailableBase64);
      if (c !== v) row[f.field] = c;
    }
  }
  if (!mayHavePlaceholder) return row;
  // Columns without a schema field: only a placeholder (or an undefined-free null) changes.
  for (const k in row) {
    if (codec?.names.has(k)) continue;
    const v = row[k];
    const c = convertValue(v, undefined, unavailable, unavailableBase64);
    if (c !== v) row[k] = c;
  }
  return row;
}

const base64Cache = new Map<string, string>();
function base64Of(text: string): string {
  let b = base64Cache.get(text);
  if (b === undefined) {
    b = Buffer.from(text, 'utf8').toString('base64');
    base64Cache.set(text, b);
  }
  return b;
}

/** The fields of a struct field named `name` in an envelope schema (`before`, `after`). */
export function structFields(schema: ConnectSchema | undefined, name: string): readonly ConnectField[] | undefined {
  return schema?.fields?.find((f) => f.field === name)?.fields;
}
