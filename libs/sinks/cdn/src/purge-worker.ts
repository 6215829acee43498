import { setMaxListeners } from 'node:events';
import { CdnProvider, Logger, backoffDelay, errorMessage, sleep, withRetry } from '@cdc/core';
import { PurgeWorkerConfig } from './cdn-config';
import { cdnMetrics } from './cdn-metrics';
import { OutboxEntry, decodeEntry } from './outbox-entry';
import { OutboxStore, RawEntry } from './outbox-store';
import { Purger } from './purger';
import { LaneSettlement, TargetLane } from './target-lane';

export type PurgeWorkerStatus = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Drains the outbox: reads new entries through the consumer group, claims entries a dead
 * worker left pending (XAUTOCLAIM after `claimMinIdleMs`), hands them to one TargetLane
 * per zone/distribution, and XACKs an entry only after its provider calls succeeded or it
 * was moved to the dead-letter stream. At most `maxInFlightEntries` are held in memory;
 * the rest wait in Redis. Recovery after a crash is the normal start path.
 */
export class PurgeWorker {
  private statusValue: PurgeWorkerStatus = 'idle';
  private readonly purgers = new Map<CdnProvider, Purger>();
  private readonly lanes = new Map<string, TargetLane>();
  /** Entries delivered to this worker and not yet acked or dead-lettered, with their raw fields. */
  private readonly inFlight = new Map<string, readonly string[]>();
  private readonly readAbort = new AbortController();
  private readonly workAbort = new AbortController();
  private loops: Promise<void>[] = [];
  private capacityWaiters: Array<() => void> = [];

  constructor(
    private readonly store: OutboxStore,
    purgers: readonly Purger[],
    private readonly config: PurgeWorkerConfig,
    private readonly logger: Logger,
  ) {
    for (const p of purgers) this.purgers.set(p.provider, p);
    // Every in-flight request and backoff sleep listens on these signals; many at once is normal.
    setMaxListeners(10_000, this.readAbort.signal, this.workAbort.signal);
  }

  get status(): PurgeWorkerStatus {
    return this.statusValue;
  }

  /** Entries held in memory right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    if (this.statusValue !== 'idle') return;
    this.statusValue = 'running';
    await withRetry(() => this.store.ensureGroup(), { maxAttempts: 5, retryIf: () => true });
    await this.recoverOwnPending();
    this.loops = [this.readLoop(), this.maintenanceLoop()];
    this.logger.info({ providers: [...this.purgers.keys()], stream: this.store.names.stream, consumer: this.store.names.consumer }, 'cdn purge worker started');
  }

  /**
   * Stops reading, lets in-flight purges finish for up to `drainTimeoutMs`, then aborts the
   * rest: unfinished entries stay pending in the stream for the next worker (or this one
   * after a restart) to claim.
   */
  async stop(drainTimeoutMs = 5000): Promise<void> {
    if (this.statusValue !== 'running') {
      this.store.closeBlocking(); // created with the worker even if it never started
      this.statusValue = 'stopped';
      return;
    }
    this.statusValue = 'stopping';
    this.readAbort.abort();
    this.store.closeBlocking();
    this.wakeCapacityWaiters();
    await Promise.allSettled(this.loops);
    const drained = Promise.all([...this.lanes.values()].map((l) => l.whenIdle()));
    const timedOut = await Promise.race([drained.then(() => false), sleep(drainTimeoutMs).then(() => true)]);
    this.workAbort.abort();
    for (const lane of this.lanes.values()) {
      for (const e of lane.dropQueued()) this.inFlight.delete(e.id);
    }
    await drained;
    for (const p of this.purgers.values()) p.close();
    this.statusValue = 'stopped';
    this.logger.info({ leftPending: this.inFlight.size, timedOut }, 'cdn purge worker stopped');
  }

  private async recoverOwnPending(): Promise<void> {
    let after = '0';
    while (this.inFlight.size < this.config.maxInFlightEntries) {
      const raw = await this.store.readOwnPending(Math.min(this.config.readCount, this.config.maxInFlightEntries - this.inFlight.size), after);
      if (raw.length === 0) return;
      this.logger.info({ entries: raw.length }, 'resuming entries this consumer owned before a restart');
      await this.dispatch(raw);
      after = raw[raw.length - 1][0];
    }
  }

  private async readLoop(): Promise<void> {
    const signal = this.readAbort.signal;
    let failures = 0;
    while (!signal.aborted) {
      const room = this.config.maxInFlightEntries - this.inFlight.size;
      if (room <= 0) {
        await new Promise<void>((r) => this.capacityWaiters.push(r));
        continue;
      }
      try {
        const raw = await this.store.readNew(Math.min(this.config.readCount, room), 1000);
        failures = 0;
        await this.dispatch(raw);
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        if (/NOGROUP/.test(errorMessage(err))) {
          // Redis lost the group (restart without persistence): recreate it and go on.
          await this.store.ensureGroup().catch(() => undefined);
        }
        this.logger.warn({ error: errorMessage(err), failures }, 'cdn outbox read failed; retrying');
        await sleep(backoffDelay(failures, 100, 5000), signal);
      }
    }
  }

  /** Keeps in-flight entries owned, claims abandoned ones, refreshes backlog gauges. */
  private async maintenanceLoop(): Promise<void> {
    const signal = this.readAbort.signal;
    const interval = Math.max(50, Math.min(Math.floor(this.config.claimMinIdleMs / 3), 5000));
    while (!signal.aborted) {
      try {
        await this.store.touch([...this.inFlight.keys()]);
        await this.claimAbandoned();
        const { depth, oldestAgeMs } = await this.store.backlog();
        cdnMetrics.outboxDepth.set(depth);
        cdnMetrics.oldestAge.set(oldestAgeMs / 1000);
      } catch (err) {
        if (!signal.aborted) this.logger.warn({ error: errorMessage(err) }, 'cdn outbox maintenance failed; retrying');
      }
      await sleep(interval, signal);
    }
  }

  private async claimAbandoned(): Promise<void> {
    let cursor = '0-0';
    do {
      const room = this.config.maxInFlightEntries - this.inFlight.size;
      if (room <= 0 || this.readAbort.signal.aborted) return;
      const { next, entries } = await this.store.claimIdle(this.config.claimMinIdleMs, cursor, Math.min(100, room));
      const fresh = entries.filter(([id]) => !this.inFlight.has(id));
      if (fresh.length > 0) {
        cdnMetrics.claimed.inc(fresh.length);
        this.logger.info({ entries: fresh.length }, 'claimed cdn outbox entries left pending by another worker');
        await this.dispatch(fresh);
      }
      cursor = next;
    } while (cursor !== '0-0');
  }

  private async dispatch(raw: readonly RawEntry[]): Promise<void> {
    const undeliverable: Array<{ id: string; fields: readonly string[]; error: string; attempts: number; provider: string }> = [];
    const byLane = new Map<TargetLane, OutboxEntry[]>();
    for (const [id, fields] of raw) {
      if (this.inFlight.has(id)) continue;
      let entry: OutboxEntry;
      try {
        entry = decodeEntry(id, fields);
      } catch (err) {
        undeliverable.push({ id, fields, error: errorMessage(err), attempts: 0, provider: 'unknown' });
        continue;
      }
      const purger = this.purgers.get(entry.provider);
      if (!purger || !purger.hasTarget(entry.target)) {
        undeliverable.push({ id, fields, error: `${entry.provider} target "${entry.target}" is not configured`, attempts: 0, provider: entry.provider });
        continue;
      }
      this.inFlight.set(id, fields);
      const lane = this.lane(purger, entry.target);
      let list = byLane.get(lane);
      if (!list) byLane.set(lane, (list = []));
      list.push(entry);
    }
    for (const [lane, entries] of byLane) lane.add(entries);
    if (undeliverable.length > 0) {
      await this.writeDeadLetters(undeliverable);
    }
  }

  private lane(purger: Purger, target: string): TargetLane {
    const key = `${purger.provider}\u0000${target}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = new TargetLane(purger, target, purger.targetSettings(target), this.config, this.workAbort.signal, (s) => this.settle(s), this.logger);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private async settle(s: LaneSettlement): Promise<void> {
    try {
      if (s.purged.length > 0) {
        const ids = s.purged.map((e) => e.id);
        await withRetry(() => this.store.ackAndDelete(ids), { maxAttempts: 10, maxDelayMs: 2000, retryIf: () => true });
      }
      if (s.failed.length > 0) {
        await this.writeDeadLetters(
          s.failed.map((f) => ({ id: f.entry.id, fields: this.inFlight.get(f.entry.id) ?? [], error: f.error, attempts: f.attempts, provider: f.entry.provider })),
        );
      }
    } finally {
      for (const e of [...s.purged, ...s.failed.map((f) => f.entry), ...s.abandoned]) this.inFlight.delete(e.id);
      this.wakeCapacityWaiters();
    }
  }

  private async writeDeadLetters(letters: Array<{ id: string; fields: readonly string[]; error: string; attempts: number; provider: string }>): Promise<void> {
    await withRetry(() => this.store.deadLetter(letters), { maxAttempts: 10, maxDelayMs: 2000, retryIf: () => true });
    for (const l of letters) cdnMetrics.deadLetters.inc({ provider: l.provider });
    this.logger.error(
      { entries: letters.length, entryIds: letters.slice(0, 20).map((l) => l.id), error: letters[0].error, deadLetterStream: this.store.names.deadLetterStream },
      'cdn outbox entries dead-lettered',
    );
  }

  private wakeCapacityWaiters(): void {
    for (const w of this.capacityWaiters.splice(0)) w();
  }
}
