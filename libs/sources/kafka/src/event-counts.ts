import { ChangeEvent } from '@cdc/core';
import { kafkaMetrics as m } from './kafka-metrics';

/**
 * Events per table and op of one segment, for the events counter. A segment's records
 * mostly come from one table with one op, so runs are counted without building a label
 * string per event; a change of table or op starts a new run.
 */
export class EventCounts {
  private readonly totals = new Map<string, Map<string, number>>();
  private schema = '';
  private table = '';
  private op = '';
  private run = 0;

  add(event: ChangeEvent): void {
    if (this.run > 0 && event.table === this.table && event.op === this.op && event.schema === this.schema) {
      this.run++;
      return;
    }
    this.close();
    this.schema = event.schema;
    this.table = event.table;
    this.op = event.op;
    this.run = 1;
  }

  /** Adds the counts to the events counter of `source`. */
  flush(source: string): void {
    this.close();
    for (const [table, byOp] of this.totals) for (const [op, n] of byOp) m.events.inc({ source, table, op }, n);
    this.totals.clear();
  }

  private close(): void {
    if (this.run === 0) return;
    const table = `${this.schema}.${this.table}`;
    let byOp = this.totals.get(table);
    if (!byOp) this.totals.set(table, (byOp = new Map()));
    byOp.set(this.op, (byOp.get(this.op) ?? 0) + this.run);
    this.run = 0;
  }
}
