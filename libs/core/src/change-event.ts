/**
 * The normalized change model every source produces and every rule consumes.
 * Sources (Postgres pgoutput, Debezium via Kafka, table backfill) map their wire
 * formats onto this shape; nothing downstream knows where an event came from.
 */

/** `snapshot` is a row read by a backfill or a Debezium snapshot (op `r`); `message` is an explicit invalidation. */
export type ChangeOp = 'insert' | 'update' | 'delete' | 'truncate' | 'snapshot' | 'message';

export const CHANGE_OPS: readonly ChangeOp[] = ['insert', 'update', 'delete', 'truncate', 'snapshot', 'message'];

/**
 * A column value the event cannot supply: an unchanged TOASTed value, or a column
 * missing from the old tuple of a table without REPLICA IDENTITY FULL. It is not
 * null: a rule that needs it cannot build its key and counts the miss instead.
 */
export const UNKNOWN: unique symbol = Symbol.for('cdc.unknown-value');
export type Unknown = typeof UNKNOWN;

export function isUnknown(value: unknown): value is Unknown {
  return value === UNKNOWN;
}

/**
 * Column values keep their types: integers as number, int8 as string (exact, and JSON-safe),
 * numeric as string, booleans, timestamps as ISO strings, json/jsonb parsed, arrays as arrays,
 * uuid as string, SQL NULL as null, and UNKNOWN as above.
 */
export type Row = Readonly<Record<string, unknown>>;

/** Explicit invalidation carried by `pg_logical_emit_message` (or a Debezium `m` event). */
export interface ExplicitInvalidation {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly patterns: readonly string[];
}

export interface ChangeEvent {
  readonly op: ChangeOp;
  /** Schema and table; empty strings for `message`. */
  readonly schema: string;
  readonly table: string;
  /** Old row. Absent when the side does not exist (insert, snapshot) or the source does not log it. */
  readonly before?: Row;
  /** New row. Absent for delete and truncate. */
  readonly after?: Row;
  /** Primary-key / replica-identity column names, when the source knows them. */
  readonly keyColumns?: readonly string[];
  /** Commit time of the transaction, milliseconds since the Unix epoch (may carry a µs fraction). */
  readonly commitTimeMs: number;
  /** Opaque, source-ordered position of the transaction this event belongs to (LSN, topic/partition/offset). */
  readonly position: string;
  /** Transaction id when the source knows it. */
  readonly txId?: string;
  /** Only for `message`. */
  readonly explicit?: ExplicitInvalidation;
}

export function qualifiedName(event: Pick<ChangeEvent, 'schema' | 'table'>): string {
  return `${event.schema}.${event.table}`;
}
