/**
 * Declared configuration fields, in the spirit of Redpanda Connect's field specs: each
 * variable a component reads is declared once (name, type, default, description, secret or
 * not) and parsed by the one reader in env-reader.ts. The declarations also produce the
 * README's configuration reference (docs-table.ts), so the docs cannot drift from the code.
 */

/** Why a set value is refused; the reader prefixes the variable (and the value, unless secret). */
export class FieldError extends Error {}

export interface Field<T> {
  /** The environment variable. */
  readonly name: string;
  /** What the docs say about the accepted values: `boolean`, `integer 1..65535`, `url`, ... */
  readonly type: string;
  /** Markdown, one line: the README's "meaning" column. */
  readonly description: string;
  /** Used when the variable is unset or empty. */
  readonly default: T | undefined;
  /** The docs' default column when the default is not a literal (`<group>.dlq`, `the rules' tables`). */
  readonly defaultDoc?: string;
  /** The value is never echoed in an error or a log line. */
  readonly secret: boolean;
  readonly required: boolean;
  /** Parses a set value (already trimmed unless `raw`); throws FieldError with the reason. */
  readonly parse: (value: string) => T;
  /** Pass the value untouched (passwords may start or end with a space). */
  readonly raw?: boolean;
}

export interface FieldOptions<T> {
  readonly name: string;
  readonly description: string;
  readonly default?: T;
  readonly defaultDoc?: string;
  readonly secret?: boolean;
  readonly required?: boolean;
}

/** A field's value type: defined when it has a default or is required. */
type Value<T, O> = O extends { default: unknown } ? T : O extends { required: true } ? T : T | undefined;

function field<T, O extends FieldOptions<T>>(o: O, type: string, parse: (value: string) => T, raw = false): Field<Value<T, O>> {
  return {
    name: o.name,
    type,
    description: o.description,
    default: o.default,
    defaultDoc: o.defaultDoc,
    secret: o.secret ?? false,
    required: o.required ?? false,
    parse,
    raw,
  } as Field<Value<T, O>>;
}

const TRUE = /^(true|1|yes|on)$/i;
const FALSE = /^(false|0|no|off)$/i;

/** The one boolean vocabulary: true/false, 1/0, yes/no, on/off, any case. */
export function parseBoolean(value: string): boolean {
  if (TRUE.test(value)) return true;
  if (FALSE.test(value)) return false;
  throw new FieldError('expected true or false (also 1/0, yes/no, on/off, any case)');
}

/** Decimal digits only: `0x10`, `1e4`, `1.5`, `+3` and blanks are refused, not converted. */
export function parseInteger(value: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new FieldError(`expected an integer between ${min} and ${max}`);
  return n;
}

export function boolean<O extends FieldOptions<boolean>>(o: O): Field<Value<boolean, O>> {
  return field(o, 'boolean', parseBoolean);
}

export function integer<O extends FieldOptions<number> & { readonly min: number; readonly max?: number }>(o: O): Field<Value<number, O>> {
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  return field(o, o.max === undefined ? `integer >= ${o.min}` : `integer ${o.min}..${o.max}`, (v) => parseInteger(v, o.min, max));
}

/** A decimal number (rates): digits with an optional fraction, within bounds. */
export function decimal<O extends FieldOptions<number> & { readonly min: number; readonly max: number }>(o: O): Field<Value<number, O>> {
  return field(o, `number ${o.min}..${o.max}`, (v) => {
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!(n >= o.min && n <= o.max)) throw new FieldError(`expected a number between ${o.min} and ${o.max}`);
    return n;
  });
}

export function port<O extends FieldOptions<number>>(o: O): Field<Value<number, O>> {
  return field(o, 'port 1..65535', (v) => parseInteger(v, 1, 65535));
}

export function oneOf<const V extends string, O extends FieldOptions<V>>(values: readonly V[], o: O): Field<Value<V, O>> {
  return field(o, values.map((v) => `\`${v}\``).join(' \\| '), (v) => {
    const found = values.find((c) => c === v.toLowerCase());
    if (found === undefined) throw new FieldError(`expected one of ${values.join(', ')} (any case)`);
    return found;
  });
}

/**
 * Free text, optionally held to a pattern. `whitespace: false` refuses any whitespace
 * inside (a Bearer token with a space can never match a header).
 */
export function text<O extends FieldOptions<string> & { readonly pattern?: RegExp; readonly what?: string; readonly minLength?: number; readonly whitespace?: boolean; readonly raw?: boolean }>(
  o: O,
): Field<Value<string, O>> {
  return field(
    o,
    o.what ?? 'string',
    (v) => {
      if (o.whitespace === false && /\s/.test(v)) throw new FieldError('must not contain whitespace');
      if (o.minLength !== undefined && v.length < o.minLength) throw new FieldError(`must be at least ${o.minLength} characters`);
      if (o.pattern && !o.pattern.test(v)) throw new FieldError(`expected ${o.what ?? o.pattern.source}`);
      return v;
    },
    o.raw ?? false,
  );
}

/** A comma-separated list, blanks dropped; each item checked by `item` (which throws FieldError). */
export function list<T = string, O extends FieldOptions<readonly T[]> = FieldOptions<readonly T[]>>(
  o: O & { readonly item?: (item: string) => T; readonly what?: string },
): Field<Value<readonly T[], O>> {
  return field(o, o.what ?? 'comma-separated list', (v) => {
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (!o.item) return items as unknown as readonly T[];
    const out: T[] = [];
    const bad: string[] = [];
    for (const item of items) {
      try {
        out.push(o.item(item));
      } catch (err) {
        if (!(err instanceof FieldError)) throw err;
        bad.push(`"${item}" ${err.message}`);
      }
    }
    if (bad.length) throw new FieldError(`bad entries: ${bad.join('; ')}`);
    return out;
  });
}

/**
 * A URL parsed with the WHATWG parser (as pg and ioredis parse them), with one of the given
 * protocols; `check` adds component-specific rules. The value stays a string (drivers take strings).
 */
export function url<O extends FieldOptions<string> & { readonly protocols: readonly string[]; readonly check?: (u: URL, value: string) => string | undefined; readonly parseValue?: (value: string) => URL }>(
  o: O,
): Field<Value<string, O>> {
  const schemes = o.protocols.map((p) => `${p}//`).join(' or ');
  return field(o, `URL (${schemes})`, (v) => {
    let parsed: URL;
    try {
      parsed = o.parseValue ? o.parseValue(v) : new URL(v);
    } catch {
      throw new FieldError(`is not a valid URL (expected ${schemes}...; check the host, the port 1-65535 and that special characters are percent-encoded)`);
    }
    if (!o.protocols.includes(parsed.protocol)) throw new FieldError(`must be a ${schemes} URL`);
    if (parsed.port !== '' && Number(parsed.port) < 1) throw new FieldError('has port 0; expected 1-65535');
    const why = o.check?.(parsed, v);
    if (why) throw new FieldError(why);
    return v;
  });
}

/** Anything else, without a default: `parse` throws FieldError with the reason. */
export function custom<T>(o: Omit<FieldOptions<T>, 'default'> & { readonly type: string; readonly parse: (value: string) => T; readonly raw?: boolean }): Field<T | undefined> {
  return field<T, typeof o>(o, o.type, o.parse, o.raw ?? false) as Field<T | undefined>;
}

/** `host:port` (IPv6 as `[::1]:7000`), port 1..65535. */
export function parseHostPort(item: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s/]+)):(\d{1,5})$/.exec(item);
  const p = m ? Number(m[3]) : NaN;
  if (!m || p < 1 || p > 65535) throw new FieldError('is not host:port (port 1-65535)');
  return { host: m[1] ?? m[2], port: p };
}
