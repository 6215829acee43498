import { ChangeEvent, DEFAULT_EXPLICIT_POLICY, DeadLetter, ExplicitInvalidationPolicy, Row, UNKNOWN } from '@cdc/core';
import { Pgoutput } from 'pg-logical-replication';
import { parseExplicitMessage } from './explicit-message';
import { Lsn, canonicalLsn, parseLsn } from './lsn';
import { parserForType } from './value-parsers';

/**
 * pgoutput messages (as pg-logical-replication parses them) → ChangeEvents, inside
 * transaction boundaries. No I/O: the source feeds messages in and receives events,
 * commits and dead letters through `DecodedStream`.
 *
 * Rows:
 * - `after` is the new tuple. An unchanged TOASTed value (pgoutput kind 'u') comes from
 *   the library as `undefined` (or as the old value when the old tuple is logged, which
 *   is exact): `undefined` becomes UNKNOWN, never null.
 * - `before` (update, delete) always has every column of the relation:
 *   - REPLICA IDENTITY FULL: the old tuple, complete.
 *   - otherwise, when the old key is logged ('K': the key changed, or any delete): the key
 *     columns from it, UNKNOWN for the others.
 *   - otherwise (update that did not change the key: pgoutput sends no old tuple): the key
 *     columns from the new tuple (unchanged, hence equal), UNKNOWN for the others.
 *   The rules engine counts a template that needs an UNKNOWN value instead of guessing.
 * - `keyColumns` are the replica identity columns as pgoutput flags them (the primary key
 *   or the REPLICA IDENTITY index; every column under REPLICA IDENTITY FULL).
 * - A truncate yields one event per truncated table, without rows.
 */

/** Relation metadata cached per relation OID, from pgoutput's Relation message. */
export interface RelationShape {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly keyColumns: readonly string[];
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
}

/** Where decoded output goes, in stream order. */
export interface DecodedStream {
  onEvent(event: ChangeEvent): void;
  /** The transaction ended; `endLsn` is its commit's end LSN, the position to confirm. */
  onCommit(endLsn: Lsn): void;
  onDeadLetter(letter: DeadLetter): void;
  /** Something deliberately not turned into an event (counted, never silent). */
  onSkip(reason: 'non-transactional-message' | 'other-prefix' | 'unknown-relation'): void;
}

interface OpenTransaction {
  readonly position: string;
  readonly commitTimeMs: number;
  readonly txId: string;
}

export class PgoutputDecoder {
  private readonly relations = new Map<number, RelationShape>();
  private txn: OpenTransaction | undefined;

  constructor(
    private readonly messagePrefix: string,
    private readonly out: DecodedStream,
    private readonly explicitPolicy: ExplicitInvalidationPolicy = DEFAULT_EXPLICIT_POLICY,
  ) {}

  get inTransaction(): boolean {
    return this.txn !== undefined;
  }

  relation(oid: number): RelationShape | undefined {
    return this.relations.get(oid);
  }

  decode(msg: Pgoutput.Message): void {
    switch (msg.tag) {
      case 'begin':
        this.txn = {
          position: msg.commitLsn ? canonicalLsn(msg.commitLsn) : '0/0',
          commitTimeMs: Number(msg.commitTime as bigint) / 1000,
          txId: String(msg.xid >>> 0),
        };
        return;
      case 'relation':
        this.onRelation(msg);
        return;
      case 'insert':
        this.emitRow('insert', msg.relation, undefined, this.toRow(msg.relation, msg.new));
        return;
      case 'update': {
        const after = this.toRow(msg.relation, msg.new);
        const before = msg.old
          ? this.toRow(msg.relation, msg.old)
          : this.keyedRow(msg.relation, msg.key ?? msg.new);
        this.emitRow('update', msg.relation, before, after);
        return;
      }
      case 'delete': {
        const before = msg.old ? this.toRow(msg.relation, msg.old) : this.keyedRow(msg.relation, msg.key ?? {});
        this.emitRow('delete', msg.relation, before, undefined);
        return;
      }
      case 'truncate':
        for (const rel of msg.relations) {
          if (rel) this.emitRow('truncate', rel, undefined, undefined);
          else this.out.onSkip('unknown-relation');
        }
        return;
      case 'message':
        this.onMessage(msg);
        return;
      case 'commit':
        this.txn = undefined;
        this.out.onCommit(parseLsn(msg.commitEndLsn ?? '0/0'));
        return;
      default:
        return; // type (already folded into relation columns by the library), origin
    }
  }

  /** Forgets the open transaction (the connection dropped; it will be re-delivered whole). */
  resetTransaction(): void {
    this.txn = undefined;
  }

  private onRelation(msg: Pgoutput.MessageRelation): void {
    // The library parses every value with node-postgres's global parsers; swap in ours
    // (value-parsers.ts). Safe: 'data' is emitted synchronously for this Relation message,
    // before any tuple that uses it is parsed.
    for (const column of msg.columns) column.parser = parserForType(column.typeOid, column.typeName);
    this.relations.set(msg.relationOid, {
      oid: msg.relationOid,
      schema: msg.schema,
      table: msg.name,
      columns: msg.columns.map((c) => c.name),
      keyColumns: msg.keyColumns,
      replicaIdentity: msg.replicaIdentity,
    });
  }

  private onMessage(msg: Pgoutput.MessageMessage): void {
    if (msg.prefix !== this.messagePrefix) return this.out.onSkip('other-prefix');
    // A non-transactional message is sent at once, outside commit order, even if its
    // transaction rolls back: not what an explicit invalidation promises.
    if (!msg.transactional || !this.txn) return this.out.onSkip('non-transactional-message');
    const parsed = parseExplicitMessage(msg.content, this.explicitPolicy);
    if (!parsed.ok) {
      this.out.onDeadLetter({
        reason: parsed.reason,
        source: 'postgres',
        position: this.txn.position,
        payload: { prefix: msg.prefix, messageLsn: msg.messageLsn ? canonicalLsn(msg.messageLsn) : null, content: parsed.text },
        at: new Date().toISOString(),
      });
      return;
    }
    this.out.onEvent({
      op: 'message',
      schema: '',
      table: '',
      commitTimeMs: this.txn.commitTimeMs,
      position: this.txn.position,
      txId: this.txn.txId,
      explicit: parsed.explicit,
    });
  }

  private emitRow(op: ChangeEvent['op'], rel: Pgoutput.MessageRelation, before: Row | undefined, after: Row | undefined): void {
    const txn = this.txn;
    if (!txn) return; // row changes only arrive inside BEGIN/COMMIT
    const event: { -readonly [K in keyof ChangeEvent]: ChangeEvent[K] } = {
      op,
      schema: rel.schema,
      table: rel.name,
      keyColumns: rel.keyColumns,
      commitTimeMs: txn.commitTimeMs,
      position: txn.position,
      txId: txn.txId,
    };
    if (before) event.before = before;
    if (after) event.after = after;
    this.out.onEvent(event);
  }

  /** A full tuple as a plain row; `undefined` (unchanged TOAST the library could not fill) → UNKNOWN. */
  private toRow(rel: Pgoutput.MessageRelation, tuple: Record<string, unknown>): Row {
    const row: Record<string, unknown> = {};
    for (const { name } of rel.columns) {
      const value = tuple[name];
      row[name] = value === undefined ? UNKNOWN : value;
    }
    return row;
  }

  /** Every column of the relation: key columns from `source`, UNKNOWN for the rest. */
  private keyedRow(rel: Pgoutput.MessageRelation, source: Record<string, unknown>): Row {
    const row: Record<string, unknown> = {};
    for (const { name } of rel.columns) row[name] = UNKNOWN;
    for (const name of rel.keyColumns) {
      const value = source[name];
      if (value !== undefined) row[name] = value;
    }
    return row;
  }
}
