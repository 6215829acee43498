import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { isLeaseMarker, tagSetKey } from '@cdc/protocol';
import { RedisCluster } from '@cdc/testing';
import { CacheClient } from './cache-client';
import { FakeWorker, deferred, eventually } from './fake-worker.test-helper';

describe('CacheClient on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let redis: Cluster;
  let probe: Cluster;
  let cache: CacheClient;

  before(async () => {
    cluster = await RedisCluster.start(3);
    redis = new Cluster(cluster.startupNodes);
    probe = new Cluster(cluster.startupNodes);
    cache = new CacheClient({ redis, l1: {}, subscriber: { channels: ['cluster-inv'], silenceMs: 0 } });
    await cache.connect();
  });

  after(async () => {
    await cache?.close();
    redis?.disconnect();
    probe?.disconnect();
    await cluster?.destroy();
  });

  it('fills under leases in each key’s slot, refuses a revoked fill, and invalidates tags whose members live in other slots', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `product:${i}`);
    for (const k of keys) assert.equal(await cache.getOrSet(k, async () => k, { tags: ['all-products'] }), k);
    assert.equal(await probe.scard(tagSetKey('all-products')), 30);
    assert.deepEqual(await cache.mget(keys.slice(0, 3)), keys.slice(0, 3));

    // the stale-set race on a Cluster: the lease is held in k, so the worker's UNLINK k revokes it
    const k = 'user:{7}:profile';
    const loading = deferred();
    const goOn = deferred();
    const result = cache.getOrSet(k, async () => {
      loading.resolve();
      await goOn.promise;
      return 'old';
    });
    await loading.promise;
    assert.ok(isLeaseMarker((await probe.get(k)) ?? ''), 'the lease marker is in k');
    await new FakeWorker(probe, 'unused').invalidate({ keys: [k] }, false);
    goOn.resolve();
    assert.equal(await result, 'old');
    assert.equal(await probe.exists(k), 0);
    assert.equal(cache.stats().fillsRefused, 1);

    assert.equal(await cache.invalidateTags(['all-products']), 30);
    for (const key of keys) assert.equal(await probe.exists(key), 0, key);
  });

  it('hears invalidations through a Cluster subscriber', async () => {
    await cache.set('c:1', 1);
    const worker = new FakeWorker(probe, 'cluster-inv');
    const hits = cache.stats().hits.l1;
    await cache.get('c:1');
    assert.equal(cache.stats().hits.l1, hits + 1);
    await worker.publish({ keys: ['c:1'] });
    await eventually('applied', () => cache.stats().messages.applied === 1);
    await cache.get('c:1');
    assert.equal(cache.stats().hits.l1, hits + 1, 'evicted');
  });
});
