import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BackfillClock, TokenBucket } from './token-bucket';

/** Virtual time: sleeping advances it instantly, so the test measures the bucket, not the machine. */
function virtualClock(): BackfillClock & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
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
    for (let i = 0; i < 4; i++) await bucket.take(1000);
    assert.deepEqual(clock.sleeps, [500, 500, 500]);
    assert.deepEqual(bucket.stats, { waits: 3, waitedMs: 1500 });
    assert.equal(clock.now(), 1500, '4000 rows at 2000/s with a 1000-row burst take 1.5 s');
  });

  it('refills with elapsed time, never above the burst', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, 50, clock);
    await bucket.take(50);
    await clock.sleep(10_000); // idle long: the bucket holds only 50
    clock.sleeps.length = 0;
    await bucket.take(50);
    assert.deepEqual(clock.sleeps, []);
    await bucket.take(20);
    assert.deepEqual(clock.sleeps, [200]);
  });

  it('holds the long-run rate whatever the take size', async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(1000, 10, clock);
    let rows = 0;
    for (const n of [1, 333, 7, 1000, 59, 600]) {
      await bucket.take(n);
      rows += n;
    }
    // Everything beyond the initial burst is paid for at 1000 rows/s.
    assert.equal(Math.round(clock.now()), rows - 10);
  });
});
