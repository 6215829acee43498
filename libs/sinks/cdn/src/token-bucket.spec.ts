import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a burst of `capacity`, then one token per 1/rate seconds', () => {
    let now = 0;
    const b = new TokenBucket(5, 3, () => now);
    assert.deepEqual([b.tryTake(), b.tryTake(), b.tryTake()], [0, 0, 0]);
    assert.equal(b.tryTake(), 200, 'empty: next token in 200 ms at 5/s');
    now = 199;
    assert.ok(b.tryTake() > 0);
    now = 200;
    assert.equal(b.tryTake(), 0);
    now = 10_000;
    assert.deepEqual([b.tryTake(), b.tryTake(), b.tryTake()], [0, 0, 0], 'refills up to capacity only');
    assert.ok(b.tryTake() > 0);
  });

  it('pauseUntil (Retry-After) blocks until then and restarts empty', () => {
    let now = 1000;
    const b = new TokenBucket(10, 10, () => now);
    b.pauseUntil(3000);
    assert.equal(b.tryTake(), 2000);
    now = 3000;
    assert.equal(b.tryTake(), 100, 'no burst right after a 429');
    now = 3100;
    assert.equal(b.tryTake(), 0);
  });

  it('take() resolves false when aborted', async () => {
    const b = new TokenBucket(0.001, 1);
    assert.equal(await b.take(), true);
    const ac = new AbortController();
    const p = b.take(ac.signal);
    ac.abort();
    assert.equal(await p, false);
  });

  it('rejects nonsense sizes', () => {
    assert.throws(() => new TokenBucket(0, 1));
    assert.throws(() => new TokenBucket(1, 0));
  });
});
