import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { CacheClient } from './cache-client';
import { CacheUnavailableError } from './errors';
import type { CacheClientOptions, FlushReason } from './options';
import { FakeWorker, deferred, eventually } from './fake-worker.test-helper';

/** Which layer served the last read of `key`: compares hit counters around one get. */
async function layerOf(cache: CacheClient, key: string): Promise<'l1' | 'l2' | 'miss'> {
  const { l1, l2 } = { ...cache.stats().hits };
  const value = await cache.get(key);
  if (cache.stats().hits.l1 > l1) return 'l1';
  if (cache.stats().hits.l2 > l2) return 'l2';
  assert.equal(value, undefined);
  return 'miss';
}

describe('L1 subscriber: an L1 that cannot go silently stale', () => {
  let server: RedisServer;
  let redis: Redis;
  let probe: Redis;
  const clients: CacheClient[] = [];
  let n = 0;

  const setup = async (opts: Partial<CacheClientOptions> & { silenceMs?: number } = {}) => {
    const channel = `inv-${++n}`;
    const worker = new FakeWorker(probe, channel);
    const cache = new CacheClient({ redis, l1: {}, subscriber: { channels: [channel], silenceMs: opts.silenceMs ?? 60_000 }, ...opts });
    clients.push(cache);
    const flushes: FlushReason[] = [];
    cache.on('flush', (e) => flushes.push(e.reason));
    await cache.connect();
    assert.equal(cache.l1Bypassed, true, 'bypassed until it hears the worker');
    await worker.heartbeat();
    await eventually('first heartbeat', () => !cache.l1Bypassed);
    return { cache, worker, channel, flushes };
  };

  before(async () => {
    server = await RedisServer.start();
    redis = server.client();
    probe = server.client();
  });

  after(async () => {
    for (const c of clients) await c.close();
    redis.disconnect();
    probe.disconnect();
    await server.destroy();
  });

  it('evicts keys, tags and patterns named by v2 messages (and v1 messages)', async () => {
    const { cache, worker, channel } = await setup();
    await cache.set('p:1', 1, { tags: ['t1'] });
    await cache.set('p:2', 2);
    await cache.set('search:a', 3);
    await cache.set('keep', 4);
    for (const k of ['p:1', 'p:2', 'search:a', 'keep']) assert.equal(await layerOf(cache, k), 'l1', k);
    await worker.publish({ keys: ['p:2'], tags: ['t1'], patterns: ['search:*'] });
    await eventually('applied', () => cache.stats().messages.applied === 1);
    for (const k of ['p:1', 'p:2', 'search:a']) assert.equal(await layerOf(cache, k), 'l2', k);
    assert.equal(await layerOf(cache, 'keep'), 'l1');
    // a version-1 message (today's worker) is applied too
    await probe.publish(channel, JSON.stringify({ v: 1, id: 'x', source: 's', channel, position: '', commitTime: null, publishedAt: '', part: 1, parts: 1, keys: ['keep'], tags: [], patterns: [] }));
    await eventually('v1 applied', () => cache.stats().messages.applied === 2);
    assert.equal(await layerOf(cache, 'keep'), 'l2');
  });

  it('a sequence gap (lost message, or lost last message seen at the heartbeat) flushes L1', async () => {
    const { cache, worker, flushes } = await setup();
    await cache.set('g:1', 1);
    assert.equal(await layerOf(cache, 'g:1'), 'l1');
    worker.lose();
    await worker.publish({ keys: ['unrelated'] });
    await eventually('gap flush', () => flushes.includes('gap'));
    assert.equal(await layerOf(cache, 'g:1'), 'l2');

    assert.equal(await layerOf(cache, 'g:1'), 'l1');
    worker.lose();
    await worker.heartbeat();
    await eventually('second gap flush', () => flushes.filter((r) => r === 'gap').length === 2);
    assert.equal(await layerOf(cache, 'g:1'), 'l2');
    assert.equal(cache.stats().messages.gap, 2);
  });

  it('a new worker stream starting at seq 1 (restart, failover) is adopted without a flush', async () => {
    const { cache, worker, channel, flushes } = await setup();
    await worker.publish({ keys: ['x'] });
    const restarted = new FakeWorker(probe, channel);
    await cache.set('r:1', 1);
    await restarted.publish({ keys: ['y'] });
    await eventually('applied', () => cache.stats().messages.applied === 2);
    assert.deepEqual(flushes, ['connect']);
    assert.equal(await layerOf(cache, 'r:1'), 'l1');
  });

  it('silence (no message, not even a heartbeat) flushes and bypasses L1 until it hears again', async () => {
    const { cache, worker, flushes } = await setup({ silenceMs: 150 });
    await cache.set('s:1', 1);
    assert.equal(await layerOf(cache, 's:1'), 'l1');
    await eventually('silence', () => cache.l1Bypassed);
    assert.ok(flushes.includes('silence'));
    assert.equal(await layerOf(cache, 's:1'), 'l2', 'bypassed: read from L2');
    assert.equal(await layerOf(cache, 's:1'), 'l2', 'and not stored in L1 either');
    await worker.heartbeat();
    await eventually('hearing again', () => !cache.l1Bypassed);
    assert.equal(await layerOf(cache, 's:1'), 'l2');
    assert.equal(await layerOf(cache, 's:1'), 'l1');
  });

  it('a killed pub/sub connection flushes L1, bypasses it, resubscribes and resumes on the next message', async () => {
    const { cache, worker, flushes } = await setup();
    await cache.set('c:1', 1);
    assert.equal(await layerOf(cache, 'c:1'), 'l1');
    await probe.client('KILL', 'TYPE', 'pubsub');
    await eventually('disconnect flush', () => flushes.includes('disconnect'));
    await eventually('resubscribed', () => flushes.filter((r) => r === 'connect').length === 2);
    assert.equal(cache.l1Bypassed, true);
    assert.equal(await layerOf(cache, 'c:1'), 'l2');
    await worker.heartbeat();
    await eventually('hearing again', () => !cache.l1Bypassed);
    assert.equal(await layerOf(cache, 'c:1'), 'l2');
    assert.equal(await layerOf(cache, 'c:1'), 'l1');
  });

  it('counts and ignores bad messages and unknown versions, and keeps working', async () => {
    const { cache, worker, channel } = await setup();
    await cache.set('b:1', 1);
    for (const bad of ['not json', '[1]', '{"v":2,"type":"invalidate","seq":1}', '{"v":2,"type":"invalidate","stream":"s","seq":1,"keys":"b:1","tags":[],"patterns":[]}', '{"v":1,"keys":[1]}']) {
      await probe.publish(channel, bad);
    }
    await probe.publish(channel, JSON.stringify({ v: 99, keys: ['b:1'] }));
    await eventually('counted', () => cache.stats().messages.invalid === 5 && cache.stats().messages['unknown-version'] === 1);
    assert.equal(await layerOf(cache, 'b:1'), 'l1', 'nothing evicted, nothing flushed');
    await worker.publish({ keys: ['b:1'] });
    await eventually('applied', () => cache.stats().messages.applied === 1);
    assert.equal(await layerOf(cache, 'b:1'), 'l2');
  });

  it('with publishChannel, set/delete/invalidateTags in one process evict the others’ L1', async () => {
    const { cache: reader, channel } = await setup();
    const writer = new CacheClient({ redis, l1: false, publishChannel: channel });
    clients.push(writer);
    await writer.set('w:1', 1, { tags: ['tw'] });
    await eventually('the first set’s message', () => reader.stats().messages.applied === 1);
    assert.equal(await reader.get('w:1'), 1);
    assert.equal(await layerOf(reader, 'w:1'), 'l1');
    await writer.set('w:1', 2, { tags: ['tw'] });
    await eventually('the second set’s message', () => reader.stats().messages.applied === 2);
    assert.equal(await reader.get('w:1'), 2);
    assert.equal(await layerOf(reader, 'w:1'), 'l1');
    await writer.invalidateTags(['tw']);
    await eventually('evicted by the tag', async () => (await layerOf(reader, 'w:1')) === 'miss');
  });

  it('an L1 fill in flight when an invalidation of its key arrives is not stored in L1', async () => {
    const { cache, worker } = await setup();
    const loading = deferred();
    const goOn = deferred();
    const result = cache.getOrSet('f:1', async () => {
      loading.resolve();
      await goOn.promise;
      return 'v';
    });
    await loading.promise;
    await worker.publish({ keys: ['f:1'] }); // message only: L2 (and the lease) untouched
    await eventually('applied', () => cache.stats().messages.applied === 1);
    goOn.resolve();
    assert.equal(await result, 'v');
    assert.equal(cache.stats().fills, 1, 'L2 took the fill (its lease was not revoked)');
    assert.equal(await layerOf(cache, 'f:1'), 'l2', 'but L1 did not');
    assert.equal(cache.stats().l1FillsCancelled, 1);
  });
});

describe('Redis down', () => {
  it('reads go to the loader within a bounded time without filling; L1 is bypassed; writes throw', async () => {
    const server = await RedisServer.start();
    const redis = server.client();
    redis.on('error', () => undefined);
    const channel = 'down';
    const cache = new CacheClient({ redis, l1: {}, subscriber: { channels: [channel], silenceMs: 0 }, redisTimeoutMs: 200 });
    try {
      await cache.connect();
      await cache.set('d:1', 'cached');
      assert.equal(await cache.get('d:1'), 'cached');
      await server.stop(true);
      await eventually('bypass', () => cache.l1Bypassed);
      let loads = 0;
      assert.equal(await cache.getOrSet('d:1', async () => `loaded-${++loads}`), 'loaded-1', 'L1 is not trusted while deaf');
      assert.equal(await cache.getOrSet('d:2', async () => `loaded-${++loads}`), 'loaded-2');
      assert.equal(await cache.get('d:2'), undefined);
      await assert.rejects(cache.set('d:3', 1), CacheUnavailableError);
      assert.ok(cache.stats().degraded >= 3);
      await server.restart();
      await eventually('reconnected', async () => (await redis.ping().catch(() => '')) === 'PONG');
      assert.equal(await redis.exists('d:2'), 0, 'nothing was filled while Redis was down');
    } finally {
      await cache.close();
      redis.disconnect();
      await server.destroy();
    }
  });
});
