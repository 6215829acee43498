import { Clock, wallClock } from './clock';

export interface ThrottleStats {
  /** How many takes had to wait. */
  readonly waits: number;
  /** Total time takes were asked to wait, ms. */
  readonly waitedMs: number;
}

/**
 * A token bucket: refills at `ratePerSec`, holds at most `capacity`. Used by the CDN purge
 * worker (one per zone/distribution, sized from the plan's limits, so the worker stays
 * under the provider's limit instead of learning it from 429s) and by the backfill (rows
 * per second).
 *
 * A take reserves its tokens at once, overdrawing the bucket if need be (a backfill page is
 * fetched whole, so a take may exceed the capacity), then waits until the debt is repaid:
 * the long-run rate is exactly `ratePerSec` whatever the take sizes, and concurrent takers
 * are served in the order they asked. `pauseUntil` (a 429's Retry-After) empties the
 * bucket and cancels the reservations of takers still waiting: they reserve again after
 * the pause.
 */
export class TokenBucket {
  private tokens: number;
  /** Tokens are counted up to this time; ahead of the clock while paused. */
  private last: number;
  /** Bumped by every pause: a waiting take whose reservation a pause cancelled sees it changed. */
  private pauses = 0;
  private waitCount = 0;
  private waitedTotalMs = 0;

  constructor(
    readonly ratePerSec: number,
    readonly capacity: number,
    private readonly clock: Clock = wallClock,
  ) {
    if (!(ratePerSec > 0)) throw new RangeError(`token bucket: ratePerSec must be > 0, got ${ratePerSec}`);
    if (!(capacity > 0)) throw new RangeError(`token bucket: capacity must be > 0, got ${capacity}`);
    this.tokens = capacity;
    this.last = clock.now();
  }

  /** Resolves true once `count` tokens are paid for; false if `signal` aborted first (the reservation is then spent). */
  async take(count = 1, signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const pauses = this.pauses;
      const waitMs = this.reserve(count);
      if (waitMs > 0) {
        this.waitCount++;
        this.waitedTotalMs += waitMs;
        await this.clock.sleep(waitMs, signal);
        if (signal?.aborted) return false;
      }
      if (this.pauses === pauses) return true;
    }
  }

  /** The provider said "not before `untilMs`": no token until then, and the bucket starts empty after. */
  pauseUntil(untilMs: number): void {
    this.pauses++;
    this.tokens = 0;
    this.last = Math.max(this.last, untilMs);
  }

  get stats(): ThrottleStats {
    return { waits: this.waitCount, waitedMs: this.waitedTotalMs };
  }

  /** Takes `count` tokens now (into debt if need be) and returns how long the taker must wait for them, ms. */
  private reserve(count: number): number {
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
      this.last = now;
    }
    this.tokens -= count;
    const debtMs = this.tokens < 0 ? (-this.tokens / this.ratePerSec) * 1000 : 0;
    return this.last - now + debtMs;
  }
}
