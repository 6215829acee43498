import { ChangeEvent, ChangeSource, DeadLetter, DeadLetterSink, SourceBatch } from '@cdc/core';
import { PostgresServer } from '@cdc/testing';

/**
 * Helpers for this library's integration tests: read from a source the way the pipeline
 * does (read, process, ack), and look at the slot from the server's side.
 */

export interface ReadResult {
  readonly events: ChangeEvent[];
  readonly batches: SourceBatch[];
}

/** Reads until `count` events arrived (acking each batch unless `ack` is false). */
export async function readEvents(
  source: ChangeSource,
  count: number,
  opts: { maxEvents?: number; ack?: boolean; timeoutMs?: number } = {},
): Promise<ReadResult> {
  const events: ChangeEvent[] = [];
  const batches: SourceBatch[] = [];
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (events.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out: got ${events.length} of ${count} events`);
    let timer: NodeJS.Timeout | undefined;
    const batch = await Promise.race([
      source.read(opts.maxEvents ?? 1000),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: got ${events.length} of ${count} events`)), remaining);
      }),
    ]).finally(() => clearTimeout(timer));
    if (batch === null) throw new Error(`source ended after ${events.length} of ${count} events`);
    batches.push(batch);
    events.push(...batch.events);
    if (opts.ack !== false) batch.ack();
  }
  return { events, batches };
}

/** The slot's confirmed_flush_lsn as the server reports it. */
export async function confirmedFlushLsn(pg: PostgresServer, slot: string): Promise<string | null> {
  const rows = await pg.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return rows[0]?.lsn ?? null;
}

/** Dead letters kept in memory, for asserting what was dead-lettered. */
export class MemoryDeadLetters implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  async publish(letters: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
  }
}

/** Row changes only (drops explicit messages), as `op:id` strings. */
export function opIds(events: readonly ChangeEvent[]): string[] {
  return events.filter((e) => e.op !== 'message').map((e) => `${e.op}:${String((e.after ?? e.before)?.id)}`);
}
