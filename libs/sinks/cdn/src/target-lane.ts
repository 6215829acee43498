import { Logger, TokenBucket, backoffDelay, nowMs, sleep } from '@cdc/core';
import { PurgeWorkerConfig } from './cdn-config';
import { cdnMetrics } from './cdn-metrics';
import { OutboxEntry } from './outbox-entry';
import { PurgeError } from './purge-error';
import { PlannedRequest, planPurges } from './purge-plan';
import { Purger, TargetSettings } from './purger';
import { safeErrorSummary } from './redact';

/** What became of the entries of one flush. */
export interface LaneSettlement {
  readonly purged: readonly OutboxEntry[];
  readonly failed: ReadonlyArray<{ entry: OutboxEntry; error: string; attempts: number }>;
  /** Not finished because the worker is stopping: left pending for a later claim. */
  readonly abandoned: readonly OutboxEntry[];
}

type SendResult = { ok: true } | { ok: false; aborted: true } | { ok: false; aborted: false; error: string; attempts: number };

const MAX_ENTRIES_PER_FLUSH = 1000;

/**
 * One zone or distribution: collects entries for a coalescing window, plans requests
 * (dedup, collapse, limits), sends them through the target's token bucket with a bounded
 * number in flight, retries per the policy, and reports which entries were purged and
 * which failed for good. Several flushes may run at once (purges are idempotent and
 * unordered); when all slots are busy, entries keep coalescing.
 */
export class TargetLane {
  private readonly queue: OutboxEntry[] = [];
  private oldestQueuedAt = 0;
  private timer?: NodeJS.Timeout;
  private activeFlushes = 0;
  private activeRequests = 0;
  private readonly requestWaiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private readonly bucket: TokenBucket;

  constructor(
    private readonly purger: Purger,
    readonly target: string,
    private readonly settings: TargetSettings,
    private readonly config: PurgeWorkerConfig,
    private readonly signal: AbortSignal,
    private readonly onSettled: (s: LaneSettlement) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.bucket = new TokenBucket(settings.ratePerSec, settings.burst);
  }

  get provider() {
    return this.purger.provider;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.activeFlushes === 0;
  }

  add(entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) return;
    if (this.queue.length === 0) this.oldestQueuedAt = nowMs();
    this.queue.push(...entries);
    this.schedule();
  }

  /** Resolves when nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets queued (not yet flushed) entries: they stay pending in the stream. */
  dropQueued(): OutboxEntry[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const dropped = this.queue.splice(0);
    this.notifyIdle();
    return dropped;
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0 || this.signal.aborted) return;
    if (this.activeFlushes >= this.config.requestConcurrency) return; // a finishing flush reschedules
    const delay = Math.max(0, this.oldestQueuedAt + this.config.coalesceMs - nowMs());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private async flush(): Promise<void> {
    const entries = this.queue.splice(0, MAX_ENTRIES_PER_FLUSH);
    if (this.queue.length > 0) this.oldestQueuedAt = nowMs() - this.config.coalesceMs; // backlog: no extra wait
    if (entries.length === 0) return;
    this.activeFlushes++;
    this.schedule(); // a backlog beyond one flush starts another one in parallel
    try {
      await this.onSettled(await this.process(entries));
    } catch (err) {
      // onSettled retries its Redis writes itself; reaching here leaves the entries pending for a later claim.
      this.logger.error({ target: this.target, provider: this.provider, error: safeErrorSummary(err).message }, 'cdn purge flush failed');
    } finally {
      this.activeFlushes--;
      this.schedule();
      this.notifyIdle();
    }
  }

  private async process(entries: OutboxEntry[]): Promise<LaneSettlement> {
    const plan = planPurges(this.provider, this.target, entries, { ...this.settings, collapseThreshold: this.config.collapseThreshold });
    if (plan.collapsed > 0) {
      cdnMetrics.collapsed.inc({ provider: this.provider }, plan.collapsed);
      this.logger.info({ provider: this.provider, target: this.target, collapsed: plan.collapsed }, 'collapsed a purge storm into wildcard/prefix purges');
    }
    const byId = new Map(entries.map((e) => [e.id, e]));
    const observed = new Set<string>();
    const results = await Promise.all(plan.requests.map((r) => this.withRequestSlot(() => this.send(r, byId, observed))));

    const failed = new Map<string, { error: string; attempts: number }>();
    const abandoned = new Set<string>();
    plan.requests.forEach((r, i) => {
      const res = results[i];
      if (res.ok) return;
      for (const id of r.entryIds) {
        if (res.aborted) abandoned.add(id);
        else if (!failed.has(id)) failed.set(id, { error: res.error, attempts: res.attempts });
      }
    });
    return {
      purged: entries.filter((e) => !failed.has(e.id) && !abandoned.has(e.id)),
      failed: entries.filter((e) => failed.has(e.id) && !abandoned.has(e.id)).map((entry) => ({ entry, ...failed.get(entry.id)! })),
      abandoned: entries.filter((e) => abandoned.has(e.id)),
    };
  }

  /**
   * One request until it succeeds or fails for good. 429s wait for Retry-After (or the
   * backoff) and CloudFront capacity waits do not count as attempts: they say "later",
   * not "broken". Server errors, timeouts and dropped connections count.
   */
  private async send(request: PlannedRequest, byId: Map<string, OutboxEntry>, observed: Set<string>): Promise<SendResult> {
    let attempts = 0;
    let throttled = 0;
    const labels = { provider: this.provider };
    for (;;) {
      if (!(await this.bucket.take(1, this.signal))) return { ok: false, aborted: true };
      this.observeCommitToPurge(request, byId, observed);
      try {
        await this.purger.purge(request, this.signal);
        cdnMetrics.requests.inc({ ...labels, status: 'ok' });
        cdnMetrics.itemsPurged.inc({ ...labels, kind: request.kind }, request.items.length);
        return { ok: true };
      } catch (err) {
        if (this.signal.aborted) return { ok: false, aborted: true };
        const pe =
          err instanceof PurgeError
            ? err
            : new PurgeError(`${this.provider} ${this.target}: ${safeErrorSummary(err).message}`, { failure: 'transient', code: 'CDN_CLIENT', metricStatus: 'network_error' });
        cdnMetrics.requests.inc({ ...labels, status: pe.metricStatus });
        const ctx = { provider: this.provider, target: this.target, kind: request.kind, items: request.items.length, entries: request.entryIds.length, code: pe.code, error: pe.message };
        if (pe.failure === 'capacity') {
          this.logger.warn(ctx, 'cdn target at its in-progress limit; waiting for capacity');
          await this.purger.waitForCapacity(this.target, this.signal);
          continue;
        }
        if (pe.failure === 'rate-limited') {
          throttled++;
          const wait = pe.retryAfterMs ?? backoffDelay(throttled, this.config.retryInitialMs, this.config.retryMaxMs);
          this.bucket.pauseUntil(nowMs() + wait);
          this.logger.debug({ ...ctx, waitMs: wait }, 'cdn rate limited; retrying after the advised delay');
          continue;
        }
        attempts++;
        if (pe.failure === 'rejected' || attempts >= this.config.maxAttempts) {
          this.logger.error({ ...ctx, attempts }, 'cdn purge failed for good; entries go to the dead-letter stream');
          return { ok: false, aborted: false, error: pe.message, attempts };
        }
        const delay = backoffDelay(attempts, this.config.retryInitialMs, this.config.retryMaxMs);
        this.logger.warn({ ...ctx, attempt: attempts, delayMs: delay }, 'cdn purge failed; retrying');
        await sleep(delay, this.signal);
      }
    }
  }

  private observeCommitToPurge(request: PlannedRequest, byId: Map<string, OutboxEntry>, observed: Set<string>): void {
    const now = nowMs();
    for (const id of request.entryIds) {
      if (observed.has(id)) continue;
      observed.add(id);
      const e = byId.get(id);
      if (e && !e.redriven) cdnMetrics.commitToPurge.observe({ provider: this.provider }, Math.max(0, now - e.commitTimeMs) / 1000);
    }
  }

  private async withRequestSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.activeRequests >= this.config.requestConcurrency) await new Promise<void>((r) => this.requestWaiters.push(r));
    this.activeRequests++;
    try {
      return await fn();
    } finally {
      this.activeRequests--;
      this.requestWaiters.shift()?.();
    }
  }

  private notifyIdle(): void {
    if (!this.idle) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
