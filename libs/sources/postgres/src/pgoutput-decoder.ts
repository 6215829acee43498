import { ALL_COLUMNS, ChangeEvent, ColumnDemand, DEFAULT_EXPLICIT_POLICY, DeadLetter, ExplicitInvalidationPolicy, Row } from '@cdc/core';
import { parseExplicitMessage } from './explicit-message';
import { Lsn } from './lsn';
import { PgoutputReader, undecodable } from './pgoutput-reader';
import { EventCount, RelationPlan, RelationShape, ReplicaIdentity } from './relation-plan';

/**
 * pgoutput messages (protocol version 1, the raw XLogData payloads) → ChangeEvents, inside
 * transaction boundaries. No I/O: the source feeds messages in and receives events,
 * commits and dead letters through `DecodedStream`. The byte layout is the one documented
 * in "Logical Replication Message Formats"; each relation's tuples are decoded through its
 * RelationPlan, which decodes only the columns the current ColumnDemand asks for (plus the
 * key columns) and leaves the others UNKNOWN.
 *
 * Rows:
 * - `after` is the new tuple. An unchanged TOASTed value (pgoutput kind 'u') is the old
 *   tuple's value when the old tuple is logged (exact), else UNKNOWN, never null.
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

export { RelationShape } from './relation-plan';

/** Where decoded output goes, in stream order. */
export interface DecodedStream {
  /** `count` identifies the event's table and op for the events metric. */
  onEvent(event: ChangeEvent, count: EventCount | undefined): void;
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

/** µs between the Unix epoch and Postgres's (2000-01-01). */
const POSTGRES_EPOCH_US = 946_684_800_000_000;

type MutableRow = Record<string, unknown>;

export class PgoutputDecoder {
  private readonly plans = new Map<number, RelationPlan>();
  /** Names from Type messages (non-builtin types), by type OID. */
  private readonly typeNames = new Map<number, string>();
  private readonly r = new PgoutputReader();
  private txn: OpenTransaction | undefined;
  private demandValue: ColumnDemand = ALL_COLUMNS;

  constructor(
    private readonly messagePrefix: string,
    private readonly out: DecodedStream,
    private readonly explicitPolicy: ExplicitInvalidationPolicy = DEFAULT_EXPLICIT_POLICY,
    /** The `source` label of the events metric. */
    private readonly sourceName = 'postgres',
  ) {}

  get inTransaction(): boolean {
    return this.txn !== undefined;
  }

  relation(oid: number): RelationShape | undefined {
    return this.plans.get(oid)?.shape;
  }

  /** The column demand the relation plans are built for. */
  get demand(): ColumnDemand {
    return this.demandValue;
  }

  /** True when every event decoded so far has every column `demand` asks for. */
  covers(demand: ColumnDemand): boolean {
    if (demand === this.demandValue) return true;
    for (const plan of this.plans.values()) if (!plan.covers(demand)) return false;
    return true;
  }

  /** Decodes what `demand` asks for from the next row on (the caller has made sure that is safe: see covers). */
  useDemand(demand: ColumnDemand): void {
    if (demand === this.demandValue) return;
    this.demandValue = demand;
    for (const [oid, plan] of this.plans) this.plans.set(oid, new RelationPlan(plan.shape, demand, this.sourceName));
  }

  /**
   * Decodes one pgoutput message: `frame` from byte `start` on (the XLogData payload). Throws
   * a non-retriable CdcError (UNDECODABLE) on a malformed one.
   */
  decode(frame: Buffer, start = 0): void {
    const r = this.r;
    r.reset(frame, start);
    try {
      const type = r.u8();
      switch (type) {
        case 0x42 /* B */:
          return this.onBegin();
        case 0x43 /* C */:
          return this.onCommit();
        case 0x49 /* I */:
          return this.onInsert();
        case 0x55 /* U */:
          return this.onUpdate();
        case 0x44 /* D */:
          return this.onDelete();
        case 0x52 /* R */:
          return this.onRelation();
        case 0x59 /* Y */:
          return this.onType();
        case 0x54 /* T */:
          return this.onTruncate();
        case 0x4d /* M */:
          return this.onMessage();
        case 0x4f /* O */:
          return; // origin: nothing to act on
        default:
          throw undecodable(`unknown message type 0x${type.toString(16)}`);
      }
    } finally {
      r.release();
    }
  }

  /** Forgets the open transaction (the connection dropped; it will be re-delivered whole). */
  resetTransaction(): void {
    this.txn = undefined;
  }

  private onBegin(): void {
    const r = this.r;
    const hi = r.u32();
    const lo = r.u32();
    const commitUs = r.u64() + POSTGRES_EPOCH_US;
    const xid = r.u32();
    this.txn = {
      position: `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`,
      commitTimeMs: commitUs / 1000,
      txId: String(xid),
    };
  }

  private onCommit(): void {
    const r = this.r;
    r.u8(); // flags, unused
    r.u64(); // the commit LSN again
    const endLsn = r.lsn();
    this.txn = undefined;
    this.out.onCommit(endLsn);
  }

  private onRelation(): void {
    const r = this.r;
    const oid = r.u32();
    const schema = r.cstring();
    const table = r.cstring();
    const replicaIdentity = identityOf(r.u8());
    const n = r.i16();
    const columns: string[] = [];
    const typeOids: number[] = [];
    const typeNames: (string | null)[] = [];
    const keyColumns: string[] = [];
    for (let i = 0; i < n; i++) {
      const flags = r.u8();
      const name = r.cstring();
      const typeOid = r.u32();
      r.u32(); // type modifier
      columns.push(name);
      typeOids.push(typeOid);
      typeNames.push(this.typeNames.get(typeOid) ?? null);
      if (flags & 1) keyColumns.push(name);
    }
    const shape: RelationShape = { oid, schema, table, columns, typeOids, typeNames, keyColumns, replicaIdentity };
    this.plans.set(oid, new RelationPlan(shape, this.demandValue, this.sourceName));
  }

  private onType(): void {
    const r = this.r;
    const oid = r.u32();
    r.cstring(); // schema
    this.typeNames.set(oid, r.cstring());
  }

  private plan(): RelationPlan {
    const oid = this.r.u32();
    const plan = this.plans.get(oid);
    if (!plan) throw undecodable(`a row of relation ${oid} arrived before its Relation message`);
    return plan;
  }

  private onInsert(): void {
    const plan = this.plan();
    this.expect(0x4e /* N */);
    const after = this.newRow(plan);
    this.r.tuple(plan, after, undefined, false);
    const txn = this.txn;
    if (!txn) return; // row changes only arrive inside BEGIN/COMMIT
    const { shape } = plan;
    this.out.onEvent(
      { op: 'insert', schema: shape.schema, table: shape.table, keyColumns: shape.keyColumns, commitTimeMs: txn.commitTimeMs, position: txn.position, txId: txn.txId, after },
      plan.counts.insert,
    );
  }

  private onUpdate(): void {
    const r = this.r;
    const plan = this.plan();
    let before = this.newRow(plan);
    const after = this.newRow(plan);
    const sub = r.u8();
    if (sub === 0x4f /* O */) {
      r.tuple(plan, before, undefined, false);
      this.expect(0x4e);
      r.tuple(plan, after, before, false);
    } else if (sub === 0x4b /* K */) {
      r.tuple(plan, before, undefined, true);
      this.expect(0x4e);
      r.tuple(plan, after, undefined, false);
    } else if (sub === 0x4e /* N */) {
      r.tuple(plan, after, undefined, false);
      before = this.keysFrom(plan, before, after);
    } else {
      throw undecodable(`unknown update submessage 0x${sub.toString(16)}`);
    }
    const txn = this.txn;
    if (!txn) return;
    const { shape } = plan;
    this.out.onEvent(
      {
        op: 'update',
        schema: shape.schema,
        table: shape.table,
        keyColumns: shape.keyColumns,
        commitTimeMs: txn.commitTimeMs,
        position: txn.position,
        txId: txn.txId,
        before,
        after,
      },
      plan.counts.update,
    );
  }

  private onDelete(): void {
    const r = this.r;
    const plan = this.plan();
    const before = this.newRow(plan);
    const sub = r.u8();
    if (sub === 0x4f /* O */) r.tuple(plan, before, undefined, false);
    else if (sub === 0x4b /* K */) r.tuple(plan, before, undefined, true);
    else throw undecodable(`unknown delete submessage 0x${sub.toString(16)}`);
    const txn = this.txn;
    if (!txn) return;
    const { shape } = plan;
    this.out.onEvent(
      { op: 'delete', schema: shape.schema, table: shape.table, keyColumns: shape.keyColumns, commitTimeMs: txn.commitTimeMs, position: txn.position, txId: txn.txId, before },
      plan.counts.delete,
    );
  }

  private onTruncate(): void {
    const r = this.r;
    const n = r.u32();
    r.u8(); // options: CASCADE, RESTART IDENTITY
    for (let i = 0; i < n; i++) {
      const plan = this.plans.get(r.u32());
      const txn = this.txn;
      if (!plan) this.out.onSkip('unknown-relation');
      else if (txn) {
        const { shape } = plan;
        this.out.onEvent(
          { op: 'truncate', schema: shape.schema, table: shape.table, keyColumns: shape.keyColumns, commitTimeMs: txn.commitTimeMs, position: txn.position, txId: txn.txId },
          plan.counts.truncate,
        );
      }
    }
  }

  private onMessage(): void {
    const r = this.r;
    const transactional = (r.u8() & 1) === 1;
    const hi = r.u32();
    const lo = r.u32();
    const prefix = r.cstring();
    const content = r.bytes(r.i32());
    if (prefix !== this.messagePrefix) return this.out.onSkip('other-prefix');
    // A non-transactional message is sent at once, outside commit order, even if its
    // transaction rolls back: not what an explicit invalidation promises.
    const txn = this.txn;
    if (!transactional || !txn) return this.out.onSkip('non-transactional-message');
    const parsed = parseExplicitMessage(content, this.explicitPolicy);
    if (!parsed.ok) {
      const messageLsn = hi === 0 && lo === 0 ? null : `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
      this.out.onDeadLetter({
        reason: parsed.reason,
        source: 'postgres',
        position: txn.position,
        payload: { prefix, messageLsn, content: parsed.text },
        at: new Date().toISOString(),
      });
      return;
    }
    this.out.onEvent(
      { op: 'message', schema: '', table: '', commitTimeMs: txn.commitTimeMs, position: txn.position, txId: txn.txId, explicit: parsed.explicit },
      undefined,
    );
  }

  /** A row with every column UNKNOWN, to be filled from a tuple. */
  private newRow(plan: RelationPlan): MutableRow {
    return { ...plan.template };
  }

  /** `row` (all UNKNOWN) with the key columns taken from `source`. */
  private keysFrom(plan: RelationPlan, row: MutableRow, source: Row): MutableRow {
    const columns = plan.shape.columns;
    for (const i of plan.decodedKeys) row[columns[i]] = source[columns[i]];
    return row;
  }

  private expect(tag: number): void {
    const got = this.r.u8();
    if (got !== tag) throw undecodable(`expected submessage 0x${tag.toString(16)}, got 0x${got.toString(16)}`);
  }
}

function identityOf(byte: number): ReplicaIdentity {
  switch (byte) {
    case 0x64:
      return 'default';
    case 0x6e:
      return 'nothing';
    case 0x66:
      return 'full';
    case 0x69:
      return 'index';
    default:
      throw undecodable(`unknown replica identity 0x${byte.toString(16)}`);
  }
}
