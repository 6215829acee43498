import {
  ChangeEvent,
  ChangeOp,
  DEFAULT_EXPLICIT_POLICY,
  DEFAULT_MESSAGE_PREFIX,
  ExplicitInvalidation,
  ExplicitInvalidationPolicy,
  Row,
  countMalformedExplicitInvalidation,
  hasUnsafeInteger,
  parseExplicitInvalidation,
  parseJsonExact,
} from '@cdc/core';
import { ConnectSchema, RowCodec, convertRow, convertRowInPlace } from './debezium-values';
import { CompiledSchema, SchemaCache, compileSchema } from './schema-cache';

/**
 * Debezium JSON → ChangeEvent. Pure: no I/O, no clock; the source counts and dead-letters
 * what this returns (explicit-invalidation refusals are counted where the policy is applied).
 */

export interface DebeziumDecoderOptions {
  /** Debezium `topic.prefix`; topics are `<prefix>.<schema>.<table>`. Default: none (last two segments). */
  readonly topicPrefix?: string;
  /** Topic → `schema.table`, for topics that do not follow Debezium naming (routers, SMTs). Wins over everything. */
  readonly tableMap?: Readonly<Record<string, string>>;
  /** Topics starting with this are Debezium heartbeats and are skipped. Default `__debezium-heartbeat`. */
  readonly heartbeatTopicPrefix?: string;
  /** Debezium's `unavailable.value.placeholder` for unchanged TOAST values. Default `__debezium_unavailable_value`. */
  readonly unavailableValue?: string;
  /** Records were flattened by the ExtractNewRecordState SMT (`__op`, `__table`, `__deleted`, ...). Default false. */
  readonly flattened?: boolean;
  /** Logical-message prefix that carries explicit invalidations (op `m`). Default `cache-invalidation`, as for the Postgres source. */
  readonly messagePrefix?: string;
  /** What explicit invalidations may carry; a refused message is poison (dead-lettered). Default DEFAULT_EXPLICIT_POLICY. */
  readonly explicitPolicy?: ExplicitInvalidationPolicy;
}

export const DEFAULT_HEARTBEAT_TOPIC_PREFIX = '__debezium-heartbeat';
export const DEFAULT_UNAVAILABLE_VALUE = '__debezium_unavailable_value';
export { DEFAULT_MESSAGE_PREFIX };

/** The parts of a Kafka record the decoder reads. */
export interface DebeziumRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** Kafka record timestamp (ms, as kafkajs gives it), the commit time of last resort. */
  readonly timestamp?: string;
}

export type SkipReason = 'tombstone' | 'heartbeat' | 'foreign-message';

export type DecodeResult =
  | { readonly kind: 'event'; readonly event: ChangeEvent }
  | { readonly kind: 'skip'; readonly reason: SkipReason }
  | { readonly kind: 'poison'; readonly reason: string };

/** `topic/partition/offset`: the opaque position of a Kafka record. */
export function kafkaPosition(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}/${offset}`;
}

const OPS: Readonly<Record<string, ChangeOp>> = {
  c: 'insert',
  u: 'update',
  d: 'delete',
  r: 'snapshot',
  t: 'truncate',
  m: 'message',
};


type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: Buffer | string): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}

/** Splits `{schema, payload}` (schemas.enable=true) from a bare payload. */
function unwrap(doc: unknown): { schema?: ConnectSchema; payload: unknown } {
  if (isObject(doc) && 'payload' in doc && 'schema' in doc && Object.keys(doc).length === 2) {
    const schema = isObject(doc.schema) ? (doc.schema as unknown as ConnectSchema) : undefined;
    return { schema, payload: doc.payload };
  }
  return { payload: doc };
}

export class DebeziumDecoder {
  private readonly heartbeatPrefix: string;
  private readonly unavailable: string;
  private readonly messagePrefix: string;
  private readonly unavailableBase64: string;
  private readonly tableByTopic = new Map<string, { schema: string; table: string }>();
  /** Key column names per topic: Debezium keys every record of a table by the same columns. */
  private readonly keyColumnsByTopic = new Map<string, readonly string[] | undefined>();
  private mayHavePlaceholder = true;
  private readonly schemas = new SchemaCache();

  constructor(private readonly options: DebeziumDecoderOptions = {}) {
    this.heartbeatPrefix = options.heartbeatTopicPrefix ?? DEFAULT_HEARTBEAT_TOPIC_PREFIX;
    this.unavailable = options.unavailableValue ?? DEFAULT_UNAVAILABLE_VALUE;
    this.messagePrefix = options.messagePrefix ?? DEFAULT_MESSAGE_PREFIX;
    this.unavailableBase64 = Buffer.from(this.unavailable, 'utf8').toString('base64');
  }

  decode(record: DebeziumRecord): DecodeResult {
    if (this.heartbeatPrefix && record.topic.startsWith(this.heartbeatPrefix)) return { kind: 'skip', reason: 'heartbeat' };
    if (record.value === null || record.value === undefined || record.value.length === 0) return { kind: 'skip', reason: 'tombstone' };
    const value = typeof record.value === 'string' ? Buffer.from(record.value, 'utf8') : record.value;
    // Schema-enabled records: a schema seen before is recognised by its bytes; only the payload is parsed.
    const compiled = this.schemas.lookup(record.topic, value);
    if (compiled) {
      const text = value.toString('utf8', this.schemas.payloadStart, value.length - 1);
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        return this.decodeDocument(record, value);
      }
      this.mayHavePlaceholder = this.holdsPlaceholder(text);
      if (isObject(payload) && rowsHaveUnsafeIntegers(payload)) payload = parseJsonExact(text);
      return this.decodePayload(record, payload, compiled);
    }
    return this.decodeDocument(record, value);
  }

  /** Schema cache hits and misses so far (a miss parses a schema). */
  get schemaCacheStats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.schemas.hits, misses: this.schemas.misses };
  }

  /** The whole document: a bare payload, or `{schema, payload}` in a form the cache does not recognise. */
  private decodeDocument(record: DebeziumRecord, value: Buffer): DecodeResult {
    const raw = value.toString('utf8');
    // Rows are converted (placeholders swapped for UNKNOWN) only when a placeholder can be in them.
    this.mayHavePlaceholder = this.holdsPlaceholder(raw);
    let doc: unknown;
    try {
      doc = JSON.parse(raw);
    } catch (err) {
      return { kind: 'poison', reason: `value is not JSON: ${(err as Error).message}` };
    }
    let { schema, payload } = unwrap(doc);
    if (isObject(payload) && rowsHaveUnsafeIntegers(payload)) ({ schema, payload } = unwrap(parseJsonExact(raw)));
    return this.decodePayload(record, payload, compileSchema(schema));
  }

  private holdsPlaceholder(text: string): boolean {
    return text.includes(this.unavailable) || text.includes(this.unavailableBase64);
  }

  private decodePayload(record: DebeziumRecord, payload: unknown, schema: CompiledSchema): DecodeResult {
    if (payload === null) return { kind: 'skip', reason: 'tombstone' };
    if (!isObject(payload)) return { kind: 'poison', reason: 'value is not a JSON object' };
    try {
      if (typeof payload.op === 'string') return this.decodeEnvelope(record, payload, schema);
      if (this.options.flattened) return this.decodeFlattened(record, payload, schema);
      return { kind: 'poison', reason: 'not a Debezium change event: no "op" (set KAFKA_FLATTENED=true for ExtractNewRecordState records)' };
    } catch (err) {
      return { kind: 'poison', reason: `bad Debezium event: ${(err as Error).message}` };
    }
  }

  private decodeEnvelope(record: DebeziumRecord, payload: Json, schema: CompiledSchema): DecodeResult {
    const op = OPS[payload.op as string];
    if (!op) return { kind: 'poison', reason: `unknown Debezium op "${String(payload.op)}"` };
    const source = isObject(payload.source) ? payload.source : {};
    const position = kafkaPosition(record.topic, record.partition, record.offset);
    const commitTimeMs = commitTime(source, payload, record);
    const txId = source.txId === undefined || source.txId === null ? undefined : String(source.txId);

    if (op === 'message') return this.decodeMessage(payload, position, commitTimeMs, txId);

    const { schema: schemaName, table } = this.tableOf(record.topic, source);
    const before = this.row(payload.before, schema.before);
    const after = this.row(payload.after, schema.after);
    if ((op === 'insert' || op === 'snapshot' || op === 'update') && !after) {
      return { kind: 'poison', reason: `op "${payload.op}" without "after"` };
    }
    if (op === 'delete' && !before) return { kind: 'poison', reason: 'op "d" without "before"' };
    // Built by assignment: absent sides stay absent (not undefined-valued keys), and it is the hot path.
    const event: Mutable<ChangeEvent> = { op, schema: schemaName, table, commitTimeMs, position };
    if (before && op !== 'insert' && op !== 'snapshot') event.before = before;
    if (after && op !== 'delete' && op !== 'truncate') event.after = after;
    const keyColumns = this.keyColumns(record);
    if (keyColumns) event.keyColumns = keyColumns;
    if (txId !== undefined) event.txId = txId;
    return { kind: 'event', event };
  }

  private decodeMessage(payload: Json, position: string, commitTimeMs: number, txId: string | undefined): DecodeResult {
    const message = isObject(payload.message) ? payload.message : undefined;
    if (!message || typeof message.prefix !== 'string') return { kind: 'poison', reason: 'op "m" without message.prefix' };
    if (message.prefix !== this.messagePrefix) return { kind: 'skip', reason: 'foreign-message' };
    const explicit = parseExplicit(message.content, this.options.explicitPolicy ?? DEFAULT_EXPLICIT_POLICY);
    if (typeof explicit === 'string') return { kind: 'poison', reason: explicit };
    return {
      kind: 'event',
      event: { op: 'message', schema: '', table: '', explicit, commitTimeMs, position, ...(txId !== undefined ? { txId } : {}) },
    };
  }

  /** ExtractNewRecordState output: the row itself plus `__`-prefixed metadata (add.fields, delete.handling.mode=rewrite). */
  private decodeFlattened(record: DebeziumRecord, payload: Json, schema: CompiledSchema): DecodeResult {
    const deleted = payload.__deleted === true || payload.__deleted === 'true';
    const rawOp = typeof payload.__op === 'string' ? payload.__op : undefined;
    let op: ChangeOp | undefined = rawOp ? OPS[rawOp] : 'update';
    if (deleted) op = 'delete';
    if (!op || op === 'message' || op === 'truncate') return { kind: 'poison', reason: `unsupported flattened op "${rawOp}"` };
    const source: Json = {
      schema: payload.__schema ?? payload.__db,
      table: payload.__table,
      ts_ms: payload.__source_ts_ms ?? payload.__ts_ms,
    };
    const { schema: schemaName, table } = this.tableOf(record.topic, source);
    const row = convertRow(payload, schema.flat, this.unavailable, (k) => k.startsWith('__'));
    const txId = payload.__txId ?? payload.__source_txId;
    const event: ChangeEvent = {
      op,
      schema: schemaName,
      table,
      // A flattened update carries only the new row: `before` is unknown, so it is absent.
      ...(op === 'delete' ? { before: row } : { after: row }),
      ...(this.keyColumns(record) ? { keyColumns: this.keyColumns(record) } : {}),
      commitTimeMs: commitTime(source, payload, record),
      position: kafkaPosition(record.topic, record.partition, record.offset),
      ...(txId !== undefined && txId !== null ? { txId: String(txId) } : {}),
    };
    return { kind: 'event', event };
  }

  /** A side of the envelope as a Row: the parsed object itself, converted in place (it is ours alone). */
  private row(value: unknown, codec: RowCodec | undefined): Row | undefined {
    if (!isObject(value)) return undefined;
    return convertRowInPlace(value, codec, this.unavailable, this.mayHavePlaceholder);
  }

  private keyColumns(record: DebeziumRecord): readonly string[] | undefined {
    if (this.keyColumnsByTopic.has(record.topic)) return this.keyColumnsByTopic.get(record.topic);
    const columns = keyColumnsOf(record.key);
    if (columns) this.keyColumnsByTopic.set(record.topic, columns);
    return columns;
  }

  /** Table of an event: the override map, then the event's own source block, then the topic name. */
  private tableOf(topic: string, source: Json): { schema: string; table: string } {
    const mapped = this.options.tableMap?.[topic];
    if (mapped) return splitQualified(mapped);
    if (typeof source.table === 'string' && source.table !== '' && typeof source.schema === 'string') {
      return { schema: source.schema, table: source.table };
    }
    let cached = this.tableByTopic.get(topic);
    if (!cached) {
      cached = tableFromTopic(topic, this.options.topicPrefix);
      this.tableByTopic.set(topic, cached);
    }
    if (typeof source.table === 'string' && source.table !== '') return { schema: cached.schema, table: source.table };
    return cached;
  }
}

/** An int8 beyond 2^53 in a row: re-parse exactly (rare: only huge bigint values). */
function rowsHaveUnsafeIntegers(payload: Json): boolean {
  if (typeof payload.op === 'string') {
    return (isObject(payload.after) && hasUnsafeInteger(payload.after)) || (isObject(payload.before) && hasUnsafeInteger(payload.before));
  }
  return hasUnsafeInteger(payload);
}

/** `<prefix>.<schema>.<table>` → schema and table; without a known prefix, the last two segments. */
export function tableFromTopic(topic: string, prefix?: string): { schema: string; table: string } {
  const rest = prefix && topic.startsWith(`${prefix}.`) ? topic.slice(prefix.length + 1) : topic;
  const parts = rest.split('.');
  if (parts.length >= 2) return { schema: parts[parts.length - 2], table: parts[parts.length - 1] };
  return { schema: 'public', table: rest };
}

function splitQualified(name: string): { schema: string; table: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: 'public', table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

/** Commit time in ms: source.ts_us (µs precision) or source.ts_ms, else the event's ts_ms, else the record timestamp. */
function commitTime(source: Json, payload: Json, record: DebeziumRecord): number {
  const us = Number(source.ts_us);
  if (Number.isFinite(us) && us > 0) return us / 1000;
  const ms = Number(source.ts_ms);
  if (Number.isFinite(ms) && ms > 0) return ms;
  const eventMs = Number(payload.ts_ms);
  if (Number.isFinite(eventMs) && eventMs > 0) return eventMs;
  const recordMs = Number(record.timestamp);
  return Number.isFinite(recordMs) ? recordMs : 0;
}

/** Primary-key columns from the record key (Debezium keys the record by the table's key). */
function keyColumnsOf(key: Buffer | string | null | undefined): readonly string[] | undefined {
  if (key === null || key === undefined || key.length === 0) return undefined;
  try {
    const { payload } = unwrap(JSON.parse(text(key)));
    return isObject(payload) ? Object.keys(payload) : undefined;
  } catch {
    return undefined;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Decodes the base64 content of an explicit-invalidation message; a string is the reason it is bad. */
function parseExplicit(content: unknown, policy: ExplicitInvalidationPolicy): ExplicitInvalidation | string {
  if (typeof content !== 'string') {
    countMalformedExplicitInvalidation('kafka');
    return 'message.content is missing';
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(content, 'base64').toString('utf8'));
  } catch (err) {
    countMalformedExplicitInvalidation('kafka');
    return `message content is not JSON: ${(err as Error).message}`;
  }
  const parsed = parseExplicitInvalidation(json, policy, 'kafka');
  return parsed.ok ? parsed.explicit : `message content is ${parsed.reason}`;
}
