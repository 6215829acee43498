import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CacheClient } from './cache-client';
import { encodeEntry } from './entry-codec';
import type { RedisLike } from './options';

/** A Redis whose GETs hang until the test answers them (no server: the time bound is what is tested). */
function hangingRedis(): { redis: RedisLike; answer: (text: string | null) => void } {
  const waiting: Array<(v: string | null) => void> = [];
  const redis = {
    options: {},
    defineCommand: () => undefined,
    get: () => new Promise<string | null>((resolve) => waiting.push(resolve)),
  } as unknown as RedisLike;
  return { redis, answer: (text) => waiting.splice(0).forEach((resolve) => resolve(text)) };
}

describe('L2Store time bound', () => {
  it('a GET that does not answer is a degraded miss within the bound, and its late reply fills nothing', async () => {
    const { redis, answer } = hangingRedis();
    const cache = new CacheClient({ redis, redisTimeoutMs: 40, l1: {}, l1Unsafe: true });
    const started = Date.now();
    // The sweep timer is unref'd (a Redis socket keeps a real app alive); here a timer of the test's does.
    const alive = setInterval(() => undefined, 10);
    const values = await Promise.all([cache.get('a'), cache.get('b')]).finally(() => clearInterval(alive));
    const took = Date.now() - started;
    assert.deepEqual(values, [undefined, undefined]);
    assert.ok(took >= 40 && took < 1000, `took ${took} ms`);
    assert.equal(cache.stats().degraded, 2);

    answer(encodeEntry({ e: Date.now() + 60_000 }, JSON.stringify('late')));
    await new Promise((r) => setImmediate(r));
    assert.equal(cache.stats().hits.l2, 0, 'the late reply was not counted');
    assert.equal((cache as unknown as { l1: { size: number } }).l1.size, 0, 'nor stored in L1');
    await cache.close();
  });

  it('a reply within the bound is served and stored in L1', async () => {
    const { redis, answer } = hangingRedis();
    const cache = new CacheClient({ redis, redisTimeoutMs: 1000, l1: {}, l1Unsafe: true });
    const pending = cache.get('k');
    answer(encodeEntry({ e: Date.now() + 60_000 }, JSON.stringify({ v: 1 })));
    assert.deepEqual(await pending, { v: 1 });
    assert.equal(cache.stats().hits.l2, 1);
    assert.deepEqual(await cache.get('k'), { v: 1 });
    assert.equal(cache.stats().hits.l1, 1);
    await cache.close();
  });
});
