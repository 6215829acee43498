/** Time, injectable so throttling is tested on a virtual clock rather than the wall. */
export interface BackfillClock {
  /** Milliseconds, monotonic enough for rates. */
  now(): number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface ThrottleStats {
  /** How many times a take had to wait for tokens. */
  readonly waits: number;
  /** Total time asked to wait, ms. */
  readonly waitedMs: number;
}

/**
 * A token bucket in rows: refills at `ratePerSec`, holds at most `burst`. A take may
 * overdraw the bucket (a page is fetched whole) and then waits until the debt is
 * repaid, so the long-run rate is exactly `ratePerSec` whatever the page size.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private waitCount = 0;
  private waitedTotalMs = 0;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: BackfillClock,
  ) {
    if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be > 0, got ${ratePerSec}`);
    if (!(burst > 0)) throw new RangeError(`burst must be > 0, got ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  async take(count: number, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    this.tokens -= count;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / this.ratePerSec) * 1000;
    this.waitCount++;
    this.waitedTotalMs += waitMs;
    await this.clock.sleep(waitMs, signal);
  }

  get stats(): ThrottleStats {
    return { waits: this.waitCount, waitedMs: this.waitedTotalMs };
  }
}
