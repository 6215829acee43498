import { ChangeOp, ColumnDemand, Row, UNKNOWN } from '@cdc/core';
import { ValueParser, asBoolean, asInteger, asString, parserForType } from './value-parsers';

/**
 * What the decoder knows about one relation (pgoutput's Relation message), and how it
 * decodes that relation's tuples under the current column demand: built once per Relation
 * message or demand change, used for every row.
 *
 * Which columns are decoded: the ones the demand names for the table, plus the replica
 * identity key columns unless the identity is FULL (then pgoutput flags every column as
 * key, and the old tuple is always complete, so the key adds nothing). With no demand
 * (`undefined`), every column. An undecoded column reads as UNKNOWN, like a value the
 * source could not supply: a rule that came to need it after a reload counts the miss
 * instead of reading a wrong value (and the source re-streams before that happens, see
 * postgres-source.ts).
 */

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

/** How a column's text becomes its value: directly from the bytes where that is exact, else through its parser. */
export const ValueKind = { Skip: 0, Text: 1, Integer: 2, Boolean: 3, Parsed: 4 } as const;
export type ValueKind = (typeof ValueKind)[keyof typeof ValueKind];

/** Relation metadata from pgoutput's Relation message (and earlier Type messages). */
export interface RelationShape {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly typeOids: readonly number[];
  /** Type names pgoutput sent in Type messages (non-builtin types), else null. */
  readonly typeNames: readonly (string | null)[];
  /** Replica identity columns as pgoutput flags them (all of them under FULL). */
  readonly keyColumns: readonly string[];
  readonly replicaIdentity: ReplicaIdentity;
}

/** Per-op metric key and labels, built once per relation so counting an event allocates nothing. */
export interface EventCount {
  readonly key: string;
  readonly labels: () => { source: string; table: string; op: string };
}

export class RelationPlan {
  /** Per column: how to decode it (ValueKind.Skip: not decoded). */
  readonly kinds: Uint8Array;
  readonly parsers: readonly (ValueParser | undefined)[];
  /** 1 for replica identity columns. */
  readonly isKey: Uint8Array;
  /** Indexes of key columns that are decoded. */
  readonly decodedKeys: readonly number[];
  /** Every column = UNKNOWN, in column order: each row starts as a copy of it (one map for all rows). */
  readonly template: Row;
  /** The columns decoded, or undefined for all of them. */
  readonly decoded: ReadonlySet<string> | undefined;
  readonly counts: Readonly<Record<'insert' | 'update' | 'delete' | 'truncate', EventCount>>;

  constructor(
    readonly shape: RelationShape,
    demand: ColumnDemand,
    source: string,
  ) {
    const n = shape.columns.length;
    const wanted = demand.columnsOf(shape.schema, shape.table);
    const keys = new Set(shape.keyColumns);
    const decodeKeys = shape.replicaIdentity !== 'full';
    this.kinds = new Uint8Array(n);
    this.isKey = new Uint8Array(n);
    const parsers: (ValueParser | undefined)[] = [];
    const decodedKeys: number[] = [];
    const decoded = new Set<string>();
    const template: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const name = shape.columns[i];
      const key = keys.has(name);
      this.isKey[i] = key ? 1 : 0;
      const decode = wanted === undefined || wanted.has(name) || (key && decodeKeys);
      const parser = parserForType(shape.typeOids[i], shape.typeNames[i]);
      this.kinds[i] = decode ? kindOf(parser) : ValueKind.Skip;
      parsers.push(decode ? parser : undefined);
      if (decode) decoded.add(name);
      if (decode && key) decodedKeys.push(i);
      // An own data property even for a column named __proto__.
      Object.defineProperty(template, name, { value: UNKNOWN, writable: true, enumerable: true, configurable: true });
    }
    this.parsers = parsers;
    this.decodedKeys = decodedKeys;
    this.template = template;
    this.decoded = wanted === undefined ? undefined : decoded;
    const table = `${shape.schema}.${shape.table}`;
    const count = (op: ChangeOp): EventCount => {
      const labels = { source, table, op };
      return { key: `${table}\u0000${op}`, labels: () => labels };
    };
    this.counts = { insert: count('insert'), update: count('update'), delete: count('delete'), truncate: count('truncate') };
  }

  /** True when this plan decodes every column `demand` asks for (events decoded by it serve rules reading those). */
  covers(demand: ColumnDemand): boolean {
    if (this.decoded === undefined) return true;
    const wanted = demand.columnsOf(this.shape.schema, this.shape.table);
    if (wanted === undefined) return false;
    for (const name of wanted) {
      // A column the relation does not have was never available to any rule.
      if (!this.decoded.has(name) && this.shape.columns.includes(name)) return false;
    }
    return true;
  }
}

function kindOf(parser: ValueParser): ValueKind {
  if (parser === asString) return ValueKind.Text;
  if (parser === asInteger) return ValueKind.Integer;
  if (parser === asBoolean) return ValueKind.Boolean;
  return ValueKind.Parsed;
}
