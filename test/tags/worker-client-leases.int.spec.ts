import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { CacheClient } from '@cdc/cache-client';
import { deferred } from '@cdc/cache-client/fake-worker.test-helper';
import { isLeaseMarker } from '@cdc/protocol';
import { RedisClient, RedisInvalidationSink, connectRedis, createRedisClient, redisConfigFromEnv } from '@cdc/sink-redis';
import { testBatch } from '@cdc/sink-redis/sink-test-batch.test-helper';
import { RedisServer } from '@cdc/testing';

/**
 * Protocol 2 end to end with the worker's real Redis sink on its defaults (no lease keys):
 * its plain UNLINK of a key, a tag member or a pattern match deletes the lease marker a
 * library fill holds in the key, so that fill, which read the database before the change,
 * is refused. docs/client.md#guarantees argues each case.
 */
describe('the worker’s plain deletes revoke library fills in flight (leases held in the value key)', () => {
  let server: RedisServer;
  let workerRedis: RedisClient;
  let probe: Redis;
  let sink: RedisInvalidationSink;
  const connections: Redis[] = [];

  const cacheClient = (): CacheClient => {
    const redis = server.client();
    connections.push(redis);
    return new CacheClient({ redis, l1: false, redisTimeoutMs: 1000 });
  };

  /** Starts a getOrSet whose loader has "read the old row" and waits; returns its result and a resume. */
  const fillInFlight = async (cache: CacheClient, key: string, tags: string[] = []): Promise<{ result: Promise<unknown>; resume: () => void }> => {
    const reading = deferred();
    const goOn = deferred();
    const result = cache.getOrSet(
      key,
      async () => {
        reading.resolve();
        await goOn.promise;
        return 'old-row';
      },
      { tags },
    );
    await reading.promise;
    assert.ok(isLeaseMarker((await probe.get(key)) ?? ''), `${key} holds the lease marker while its loader runs`);
    return { result, resume: goOn.resolve };
  };

  before(async () => {
    server = await RedisServer.start();
    workerRedis = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
    await connectRedis(workerRedis);
    probe = server.client();
    sink = new RedisInvalidationSink({ client: workerRedis, scanCount: 10 });
    await sink.start();
  });

  after(async () => {
    workerRedis?.disconnect();
    probe?.disconnect();
    for (const c of connections) c.disconnect();
    await server?.destroy();
  });

  it('an explicit key, a tag member and a pattern match: each fill is refused and nothing stale is cached', async () => {
    const cache = cacheClient();
    const byKey = await fillInFlight(cache, 'lk:1');
    const byTag = await fillInFlight(cache, 'lk:2', ['lk-tag']);
    const byPattern = await fillInFlight(cache, 'lp:3');
    const result = await sink.apply(testBatch({ keys: ['lk:1'], tags: ['lk-tag'], patterns: ['lp:*'] }));
    assert.deepEqual(result.rejected, []);
    for (const f of [byKey, byTag, byPattern]) f.resume();
    for (const f of [byKey, byTag, byPattern]) assert.equal(await f.result, 'old-row', 'the caller still gets what it loaded');
    assert.equal(cache.stats().fillsRefused, 3);
    assert.equal(await probe.exists('lk:1', 'lk:2', 'lp:3'), 0, 'no stale value was written');
  });

  it('a fill that ends while the pattern scan is under way is deleted by that scan (its key existed for the whole scan)', async () => {
    const cache = cacheClient();
    // Many matching keys and a small SCAN COUNT: the scan takes many round trips.
    await probe.mset(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`ls:${i}`, 'v'])));
    for (let round = 0; round < 5; round++) {
      const key = `ls:fill:${round}`;
      const f = await fillInFlight(cache, key);
      const scan = sink.apply(testBatch({ patterns: ['ls:*'] }));
      // Let the fill land at some point inside the scan, a little later each round.
      await new Promise((r) => setTimeout(r, round * 3));
      f.resume();
      await f.result;
      assert.deepEqual((await scan).rejected, []);
      assert.equal(await probe.exists(key), 0, `round ${round}: the fill's value (or its marker) went with the scan`);
      await probe.mset(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`ls:${i}`, 'v'])));
    }
  });
});
