import { ChangeOp } from '@cdc/core';
import { TablePattern } from './table-pattern';

export interface IndexedRule {
  readonly ops: ReadonlySet<ChangeOp>;
  readonly tables: readonly TablePattern[];
}

type RulesByOp<R> = Readonly<Record<ChangeOp, readonly R[]>>;

/** Past this many distinct tables the memo starts over, so memory stays bounded whatever the stream. */
const MEMO_LIMIT = 10_000;
const NONE: readonly never[] = Object.freeze([]);

/**
 * Finds the rules for a concrete table and op. Exact names live in a Map; globs are
 * compiled RegExps tried once per new table; the per-op result for each table is
 * memoised on first sight, so steady state is two Map lookups and a property read.
 */
export class RuleIndex<R extends IndexedRule> {
  private readonly exact = new Map<string, R[]>();
  private readonly globbed: R[] = [];
  private readonly memo = new Map<string, Map<string, RulesByOp<R>>>();
  private memoSize = 0;

  constructor(private readonly rules: readonly R[]) {
    for (const rule of rules) {
      let hasGlob = false;
      for (const pattern of rule.tables) {
        if (!pattern.isExact) {
          hasGlob = true;
          continue;
        }
        const list = this.exact.get(pattern.text) ?? [];
        if (!list.includes(rule)) list.push(rule);
        this.exact.set(pattern.text, list);
      }
      if (hasGlob) this.globbed.push(rule);
    }
  }

  /** Rules for this table and op, in file order. */
  lookup(schema: string, table: string, op: ChangeOp): readonly R[] {
    return this.forTable(schema, table)[op] ?? NONE;
  }

  /** True when any rule names this table (for any op). */
  hasTable(schema: string, table: string): boolean {
    const byOp = this.forTable(schema, table);
    for (const op in byOp) if (byOp[op as ChangeOp].length > 0) return true;
    return false;
  }

  /** Tables resolved so far (for tests and metrics). */
  get resolvedTables(): number {
    return this.memoSize;
  }

  private forTable(schema: string, table: string): RulesByOp<R> {
    let tables = this.memo.get(schema);
    const hit = tables?.get(table);
    if (hit) return hit;
    if (this.memoSize >= MEMO_LIMIT) {
      this.memo.clear();
      this.memoSize = 0;
      tables = undefined;
    }
    const resolved = this.resolve(schema, table);
    if (!tables) {
      tables = new Map();
      this.memo.set(schema, tables);
    }
    tables.set(table, resolved);
    this.memoSize++;
    return resolved;
  }

  private resolve(schema: string, table: string): RulesByOp<R> {
    const matched = new Set<R>(this.exact.get(`${schema}.${table}`));
    for (const rule of this.globbed) if (rule.tables.some((p) => p.matches(schema, table))) matched.add(rule);
    const inFileOrder = this.rules.filter((r) => matched.has(r));
    const forOp = (op: ChangeOp): readonly R[] => Object.freeze(inFileOrder.filter((r) => r.ops.has(op)));
    return Object.freeze({
      insert: forOp('insert'),
      update: forOp('update'),
      delete: forOp('delete'),
      truncate: forOp('truncate'),
      snapshot: forOp('snapshot'),
      message: NONE,
    });
  }
}
