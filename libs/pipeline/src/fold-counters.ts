import { ChangeEvent, CounterBuffer, CounterCell, RuleMatch, qualifiedName } from '@cdc/core';
import { pipelineMetrics as m } from './pipeline-metrics';

type TableOp = 'table' | 'op';

interface LastTable {
  readonly schema: string;
  readonly table: string;
  readonly op: string;
  readonly key: string;
  readonly labels: () => Partial<Record<TableOp, string>>;
  readonly events: CounterCell<TableOp>;
  unmatched?: CounterCell<TableOp>;
}

const ruleLabels = (rule: string): { rule: string } => ({ rule });

/**
 * The rules stage's counters (events and unmatched events by table and op, matches by
 * rule), counted in integers and added to Prometheus once per source batch. Consecutive
 * events are mostly of one table and op, so the last one's counts are kept at hand: the
 * hot path builds no key string and no closure per event.
 */
export class FoldCounters {
  private readonly events = new CounterBuffer(m.events);
  private readonly unmatched = new CounterBuffer(m.unmatched);
  private readonly matches = new CounterBuffer(m.ruleMatches);
  private last: LastTable | undefined;

  event(e: ChangeEvent, matched: boolean): void {
    let last = this.last;
    if (last === undefined || last.table !== e.table || last.schema !== e.schema || last.op !== e.op) {
      const key = `${e.schema}.${e.table}\u0000${e.op}`;
      const labels = (): Partial<Record<TableOp, string>> => ({ table: e.op === 'message' ? '(message)' : qualifiedName(e), op: e.op });
      last = this.last = { schema: e.schema, table: e.table, op: e.op, key, labels, events: this.events.cell(key, labels) };
    }
    last.events.n++;
    if (!matched) (last.unmatched ??= this.unmatched.cell(last.key, last.labels)).n++;
  }

  match(match: RuleMatch): void {
    this.matches.add(match.rule, ruleLabels);
  }

  /** Adds the counts to Prometheus; the cells held until now are not valid past this. */
  flush(): void {
    this.events.flush();
    this.unmatched.flush();
    this.matches.flush();
    this.last = undefined;
  }
}
