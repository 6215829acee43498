import { parse as parseArrayLiteral } from 'postgres-array';
import { parseJsonValue } from '@cdc/core';

/**
 * Column text (pgoutput sends every value in its text output form) → the typed value a
 * ChangeEvent row carries. The mapping, and why it differs from node-postgres's global
 * parsers that pg-logical-replication attaches to each relation column by default:
 *
 *   int2, int4, oid               → number
 *   int8                          → string (exact; pg's default is string too, we keep it)
 *   numeric, money                → string (exact)
 *   float4, float8                → number (NaN / ±Infinity included)
 *   bool                          → boolean
 *   text, varchar, char, name,
 *   uuid, and anything not listed → string as Postgres prints it
 *   timestamptz                   → ISO 8601 in UTC with Postgres's µs precision,
 *                                   `2024-05-01T10:00:00.123456Z` (pg's default is a Date:
 *                                   it drops the µs)
 *   timestamp (no zone)           → `2024-05-01T10:00:00.123456`, no zone (pg's default
 *                                   reads it in the process's local zone: wrong)
 *   date                          → `2024-05-01` (pg's default: local midnight Date)
 *   time, timetz, interval        → string as printed
 *   infinity, BC dates            → string as printed (`infinity`, `0044-03-15 BC`)
 *   json, jsonb                   → parsed
 *   bytea                         → hex string as Postgres prints it, `\x0a0b` (pg's
 *                                   default: a Buffer)
 *   arrays of the above           → arrays (nested for multi-dimensional), NULL → null
 *   arrays of user types (enum…)  → arrays of strings
 *
 * The replication connection pins the settings these depend on (TimeZone=UTC,
 * DateStyle=ISO, bytea_output=hex): see replication-connection.ts. SQL NULL and
 * unchanged TOAST never reach a parser (the row decoder handles them).
 */

export type ValueParser = (text: string) => unknown;

export const asString: ValueParser = (text) => text;
export const asInteger: ValueParser = (text) => Number.parseInt(text, 10);
const asFloat: ValueParser = (text) => Number.parseFloat(text);
export const asBoolean: ValueParser = (text) => text === 't';
const asJson: ValueParser = (text) => {
  try {
    return parseJsonValue(text); // integers beyond 2^53 inside stay exact (as strings)
  } catch {
    return text; // cannot happen for json/jsonb output; never let one value stop the stream
  }
};

const TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::(\d\d))?)?$/;

/** `2024-05-01 10:00:00.5+00` → `2024-05-01T10:00:00.5Z`; anything unusual stays as printed. */
export const timestampToIso: ValueParser = (text) => {
  const m = TIMESTAMP.exec(text);
  if (!m) return text; // infinity, BC, offsets with seconds
  const [, date, time, hours, minutes] = m;
  if (hours === undefined) return `${date}T${time}`;
  if (hours === '+00' && (minutes === undefined || minutes === '00')) return `${date}T${time}Z`;
  return `${date}T${time}${hours}:${minutes ?? '00'}`;
};

const SCALARS = new Map<number, ValueParser>([
  [16, asBoolean],
  [20, asString], // int8
  [21, asInteger],
  [23, asInteger],
  [26, asInteger], // oid
  [114, asJson],
  [700, asFloat],
  [701, asFloat],
  [1082, asString], // date, already ISO with DateStyle=ISO
  [1114, timestampToIso],
  [1184, timestampToIso],
  [1700, asString], // numeric
  [3802, asJson],
]);

/** Builtin array type OID → element type OID (elements without a parser stay strings). */
const ARRAYS = new Map<number, number>([
  [1000, 16], // bool[]
  [1001, 17], // bytea[]
  [1002, 18], // char[]
  [1003, 19], // name[]
  [1005, 21], // int2[]
  [1007, 23], // int4[]
  [1009, 25], // text[]
  [1014, 1042], // bpchar[]
  [1015, 1043], // varchar[]
  [1016, 20], // int8[]
  [1021, 700], // float4[]
  [1022, 701], // float8[]
  [1028, 26], // oid[]
  [1040, 829], // macaddr[]
  [1041, 869], // inet[]
  [651, 650], // cidr[]
  [1115, 1114], // timestamp[]
  [1182, 1082], // date[]
  [1183, 1083], // time[]
  [1185, 1184], // timestamptz[]
  [1187, 1186], // interval[]
  [1231, 1700], // numeric[]
  [1270, 1266], // timetz[]
  [199, 114], // json[]
  [3807, 3802], // jsonb[]
  [2951, 2950], // uuid[]
  [791, 790], // money[]
]);

function arrayOf(element: ValueParser): ValueParser {
  return (text) => {
    try {
      return parseArrayLiteral(text, element);
    } catch {
      return text; // an array literal we cannot read stays as printed rather than stopping the stream
    }
  };
}

/**
 * The parser for a relation column. `typeName` is the name pgoutput sent in a Type message
 * for non-builtin types; Postgres names array types `_element`.
 */
export function parserForType(typeOid: number, typeName?: string | null): ValueParser {
  const scalar = SCALARS.get(typeOid);
  if (scalar) return scalar;
  const element = ARRAYS.get(typeOid);
  if (element !== undefined) return arrayOf(SCALARS.get(element) ?? asString);
  if (typeName?.startsWith('_')) return arrayOf(asString);
  return asString;
}
