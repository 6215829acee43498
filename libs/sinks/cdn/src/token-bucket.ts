import { nowMs, sleep } from '@cdc/core';

/**
 * Client-side token bucket per zone/distribution, sized from the plan's documented limits,
 * so the worker stays under the provider's limit instead of learning it from 429s. A 429's
 * Retry-After empties the bucket and blocks it until then.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private blockedUntil = 0;

  constructor(
    readonly ratePerSec: number,
    readonly capacity: number,
    private readonly clock: () => number = nowMs,
  ) {
    if (!(ratePerSec > 0) || !(capacity >= 1)) throw new RangeError('token bucket needs rate > 0 and capacity >= 1');
    this.tokens = capacity;
    this.last = clock();
  }

  /** Takes a token if one is available (returns 0), else returns the ms to wait before asking again. */
  tryTake(): number {
    const now = this.clock();
    if (now < this.blockedUntil) return this.blockedUntil - now;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000);
  }

  /** Resolves once a token was taken; false if `signal` aborted first. */
  async take(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const wait = this.tryTake();
      if (wait === 0) return true;
      await sleep(wait, signal);
    }
  }

  /** The provider said "not before `untilMs`": no token until then, and start empty after. */
  pauseUntil(untilMs: number): void {
    if (untilMs > this.blockedUntil) this.blockedUntil = untilMs;
    this.tokens = 0;
    this.last = Math.max(this.last, untilMs);
  }
}
