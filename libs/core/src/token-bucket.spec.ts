import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Clock, sleep } from './clock';
import { TokenBucket } from './token-bucket';

/** Virtual time: sleeping advances it instantly, so the test measures the bucket, not the machine. */
function virtualClock(start = 0): Clock & { sleeps: number[]; set(t: number): void } {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    set: (to) => void (t = to),
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('lets the first burst through, then paces to the rate', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(2000, 1000, clock);
    for (let i = 0; i < 4; i++) assert.equal(await bucket.take(1000), true);
    assert.deepEqual(clock.sleeps, [500, 500, 500]);
    assert.deepEqual(bucket.stats, { waits: 3, waitedMs: 1500 });
    assert.equal(clock.now(), 1500, '4000 tokens at 2000/s with a burst of 1000 take 1.5 s');
  });

  it('allows a burst of `capacity` single tokens, then one per 1/rate seconds', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(5, 3, clock);
    for (let i = 0; i < 3; i++) await bucket.take();
    assert.deepEqual(clock.sleeps, []);
    await bucket.take();
    assert.deepEqual(clock.sleeps, [200], 'empty: next token in 200 ms at 5/s');
  });

  it('refills with elapsed time, never above the capacity', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, 50, clock);
    await bucket.take(50);
    clock.set(10_000); // idle long: the bucket holds only 50
    await bucket.take(50);
    assert.deepEqual(clock.sleeps, []);
    await bucket.take(20);
    assert.deepEqual(clock.sleeps, [200]);
  });

  it('holds the long-run rate whatever the take size, larger than the capacity included', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(1000, 10, clock);
    let taken = 0;
    for (const n of [1, 333, 7, 1000, 59, 600]) {
      await bucket.take(n);
      taken += n;
    }
    // Everything beyond the initial burst is paid for at 1000 tokens/s.
    assert.equal(Math.round(clock.now()), taken - 10);
  });

  it('serves concurrent takers in the order they asked, at the rate', async () => {
    const sleeps: number[] = [];
    const frozen: Clock = { now: () => 0, sleep: async (ms) => void sleeps.push(ms) }; // all four ask at t = 0
    const bucket = new TokenBucket(10, 1, frozen);
    await Promise.all([bucket.take(), bucket.take(), bucket.take(), bucket.take()]);
    assert.deepEqual(sleeps, [100, 200, 300], 'each reservation waits for the ones before it');
  });

  it('pauseUntil (Retry-After) blocks until then and restarts empty', async () => {
    const clock = virtualClock(1000);
    const bucket = new TokenBucket(10, 10, clock);
    bucket.pauseUntil(3000);
    await bucket.take();
    assert.deepEqual(clock.sleeps, [2100], 'the pause, then 100 ms for a token: no burst right after a 429');
    clock.set(3100 + 1000);
    await bucket.take(10);
    assert.equal(clock.sleeps.length, 1, 'refilled after the pause');
  });

  it('a pause also holds takers that were already waiting: they reserve again after it', async () => {
    let now = 0;
    const wakeups: Array<() => void> = [];
    const clock: Clock = {
      now: () => now,
      sleep: (ms) => new Promise<void>((resolve) => wakeups.push(() => ((now += ms), resolve()))),
    };
    const bucket = new TokenBucket(10, 1, clock);
    await bucket.take();
    let done = false;
    const waiting = bucket.take().then(() => (done = true));
    assert.equal(wakeups.length, 1, 'the second take waits 100 ms for its token');
    bucket.pauseUntil(5000);
    wakeups.shift()!(); // its 100 ms are over, but the provider said "not before 5000"
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    assert.equal(wakeups.length, 1, 'it sleeps again');
    wakeups.shift()!();
    await waiting;
    assert.equal(now, 5100, 'the pause, then one token');
  });

  it('take() resolves false when aborted, on the wall clock too', async () => {
    const bucket = new TokenBucket(0.001, 1);
    assert.equal(await bucket.take(), true);
    const ac = new AbortController();
    const p = bucket.take(1, ac.signal);
    await sleep(5);
    ac.abort();
    assert.equal(await p, false);
    assert.equal(await bucket.take(1, ac.signal), false, 'an aborted signal never waits');
  });

  it('rejects nonsense sizes', () => {
    assert.throws(() => new TokenBucket(0, 1), RangeError);
    assert.throws(() => new TokenBucket(1, 0), RangeError);
    assert.throws(() => new TokenBucket(Number.NaN, 1), RangeError);
  });
});
