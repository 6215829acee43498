import { ConnectSchema, RowCodec, compileFields, structFields } from './debezium-values';

/**
 * A Connect envelope schema, compiled: the codecs of the envelope's `before` and `after`
 * structs (and of the top-level fields, for flattened records).
 */
export interface CompiledSchema {
  readonly before?: RowCodec;
  readonly after?: RowCodec;
  readonly flat?: RowCodec;
}

export const NO_SCHEMA: CompiledSchema = {};

export function compileSchema(schema: ConnectSchema | undefined): CompiledSchema {
  if (!schema) return NO_SCHEMA;
  const before = structFields(schema, 'before');
  const after = structFields(schema, 'after');
  return {
    before: before && compileFields(before),
    after: after && compileFields(after),
    flat: schema.fields && compileFields(schema.fields),
  };
}

interface Entry {
  /** The exact bytes of the `schema` member (a copy: the record's buffer is not kept). */
  readonly bytes: Buffer;
  readonly compiled: CompiledSchema;
}

/** `{"schema":` and `,"payload":`, as JsonConverter writes them (no whitespace, schema first). */
const HEAD = Buffer.from('{"schema":', 'latin1');
const SEPARATOR = Buffer.from(',"payload":', 'latin1');
/** Schemas kept per topic: a topic that carries a few tables (a router SMT) keeps them all. */
const PER_TOPIC = 4;

/**
 * Schema-enabled Debezium JSON (`{"schema":…,"payload":…}`) repeats the same schema, most
 * of the message, in every record of a topic. This recognises it by its exact bytes and
 * hands back its compiled form and where the payload starts, so only the payload is decoded
 * and parsed. A schema not seen before (a new topic, a schema change mid-topic) is parsed
 * once and replaces the oldest of the topic's entries. A value not in JsonConverter's
 * compact form is not recognised (undefined): the caller parses the whole document.
 */
export class SchemaCache {
  private readonly byTopic = new Map<string, Entry[]>();
  /** Where the payload of the value last recognised starts; it ends before the final `}`. */
  payloadStart = 0;
  hits = 0;
  misses = 0;

  lookup(topic: string, value: Buffer): CompiledSchema | undefined {
    if (value.length < HEAD.length + 2 + SEPARATOR.length + 2 || value[value.length - 1] !== 0x7d /* } */) return undefined;
    if (value.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0) return undefined;
    const entries = this.byTopic.get(topic);
    if (entries) {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        const end = HEAD.length + e.bytes.length;
        if (end + SEPARATOR.length >= value.length) continue;
        if (value.compare(e.bytes, 0, e.bytes.length, HEAD.length, end) !== 0) continue;
        if (value.compare(SEPARATOR, 0, SEPARATOR.length, end, end + SEPARATOR.length) !== 0) continue;
        if (i > 0) {
          entries.splice(i, 1);
          entries.unshift(e);
        }
        this.hits++;
        this.payloadStart = end + SEPARATOR.length;
        return e.compiled;
      }
    }
    return this.learn(topic, value, entries);
  }

  private learn(topic: string, value: Buffer, entries: Entry[] | undefined): CompiledSchema | undefined {
    const end = objectEnd(value, HEAD.length);
    if (end < 0 || end + SEPARATOR.length >= value.length) return undefined;
    if (value.compare(SEPARATOR, 0, SEPARATOR.length, end, end + SEPARATOR.length) !== 0) return undefined;
    let schema: unknown;
    try {
      schema = JSON.parse(value.toString('utf8', HEAD.length, end));
    } catch {
      return undefined;
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return undefined;
    this.misses++;
    const entry: Entry = { bytes: Buffer.from(value.subarray(HEAD.length, end)), compiled: compileSchema(schema as ConnectSchema) };
    if (!entries) this.byTopic.set(topic, (entries = []));
    entries.unshift(entry);
    if (entries.length > PER_TOPIC) entries.length = PER_TOPIC;
    this.payloadStart = end + SEPARATOR.length;
    return entry.compiled;
  }
}

/**
 * End (exclusive) of the JSON object starting at `start`, or -1. UTF-8 continuation bytes
 * are all ≥ 0x80, so scanning bytes for the ASCII structure is safe; strings are skipped
 * with their escapes.
 */
export function objectEnd(b: Buffer, start: number): number {
  if (b[start] !== 0x7b /* { */) return -1;
  let depth = 0;
  for (let i = start; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22 /* " */) {
      for (i++; i < b.length && b[i] !== 0x22; i++) if (b[i] === 0x5c /* \ */) i++;
    } else if (c === 0x7b || c === 0x5b /* [ */) {
      depth++;
    } else if (c === 0x7d || c === 0x5d /* ] */) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}
