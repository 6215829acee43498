import { ChangeSource, SourceBatch } from '@cdc/core';

/**
 * Reads a source with a timeout without losing anything: a read that is still pending when
 * the timeout fires is kept and awaited by the next call. (Racing `source.read()` against a
 * timer and dropping the loser silently loses a batch: it is never acked, so commits stall.)
 */
export class PatientReader {
  private pending?: Promise<SourceBatch | null>;

  constructor(private readonly source: ChangeSource) {}

  /** The next batch, or `undefined` if none arrived within `ms` (the read stays in flight). */
  async next(maxEvents: number, ms: number): Promise<SourceBatch | null | undefined> {
    this.pending ??= this.source.read(maxEvents);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    const result = await Promise.race([this.pending, timeout]).finally(() => clearTimeout(timer));
    if (result === 'timeout') return undefined;
    this.pending = undefined;
    return result;
  }
}
