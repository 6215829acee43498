/**
 * JSON.parse that keeps integers beyond 2^53 exact (as strings).
 *
 * Debezium writes int8 columns (bigint ids) as JSON numbers; JSON.parse would round
 * 9007199254740993 to ...992 and a cache key built from it would name another row. The
 * Debezium decoder parses with plain JSON.parse first and comes here only when a row holds
 * an integer that is not safe (`hasUnsafeInteger`): Debezium's own ts_ns fields are beyond
 * 2^53 in every message, so a text-level test would send everything down the slow path.
 */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(quoteUnsafeIntegers(text));
}

/** 2^53 has 16 digits: a shorter integer is always safe. */
const UNSAFE_CANDIDATE = /\d{16}/;

/**
 * A json/jsonb column value, parsed: integers beyond 2^53 anywhere inside become decimal
 * strings (exact), the rest is JSON.parse. Both sources parse json columns with it (the
 * Postgres source's jsonb text, Debezium's io.debezium.data.Json), so a key rendered from a
 * json value is the same, and exact, on both paths. Text without a run of 16 digits cannot
 * hold an unsafe integer and takes the plain path.
 */
export function parseJsonValue(text: string): unknown {
  return UNSAFE_CANDIDATE.test(text) ? parseJsonExact(text) : JSON.parse(text);
}


/** True when a top-level value of the row is an integer JSON.parse could not keep exact. */
export function hasUnsafeInteger(row: Readonly<Record<string, unknown>>): boolean {
  for (const k in row) {
    const v = row[k];
    if (typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v)) return true;
  }
  return false;
}

function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let copiedTo = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip a string literal, honouring escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      if (c === 0x2d) i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      let isInteger = true;
      while (i < n && /[.eE+\-0-9]/.test(text[i])) {
        isInteger = false;
        i++;
      }
      const literal = text.slice(start, i);
      if (isInteger && !Number.isSafeInteger(Number(literal))) {
        out += text.slice(copiedTo, start) + '"' + literal + '"';
        copiedTo = i;
      }
      continue;
    }
    i++;
  }
  return copiedTo === 0 ? text : out + text.slice(copiedTo);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
