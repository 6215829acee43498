import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { RedisCluster } from '@cdc/testing';
import { CacheClient } from './cache-client';
import type { FlushReason } from './options';
import { FakeWorker, eventually } from './fake-worker.test-helper';

/** The L1 subscriber's faults on a 3-master Cluster (the standalone cases: l1-subscriber.int.spec.ts). */
describe('L1 subscriber on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let redis: Cluster;
  let probe: Cluster;
  let cache: CacheClient;
  let worker: FakeWorker;
  const flushes: FlushReason[] = [];

  /** CLIENT KILL TYPE pubsub on every node; the number killed. */
  const killPubSub = async (): Promise<number> => {
    let killed = 0;
    for (let i = 0; i < cluster.nodes.length; i++) {
      const node = cluster.nodeClient(i);
      killed += Number(await node.client('KILL', 'TYPE', 'pubsub'));
      node.disconnect();
    }
    return killed;
  };

  before(async () => {
    cluster = await RedisCluster.start(3);
    redis = cluster.client();
    probe = cluster.client();
    worker = new FakeWorker(probe, 'cluster-sub');
    // Connected before the Cluster client is ready: the subscriber waits for its nodes.
    cache = new CacheClient({ redis, l1: {}, subscriber: { channels: ['cluster-sub'], silenceMs: 60_000 } });
    cache.on('flush', (e) => flushes.push(e.reason));
    await cache.connect();
    await worker.heartbeat();
    await eventually('hearing', () => !cache.l1Bypassed);
  });

  after(async () => {
    await cache?.close();
    redis?.disconnect();
    probe?.disconnect();
    await cluster?.destroy();
  });

  it('a killed pub/sub connection flushes and bypasses L1 at once (ioredis would resubscribe silently), then resumes', async () => {
    await cache.set('k:1', 1);
    assert.equal(await cache.get('k:1'), 1);
    const hits = cache.stats().hits.l1;
    assert.equal(await cache.get('k:1'), 1);
    assert.equal(cache.stats().hits.l1, hits + 1, 'served from L1');

    assert.ok((await killPubSub()) >= 1);
    await eventually('disconnect flush', () => flushes.includes('disconnect'));
    await eventually('resubscribed', () => flushes.filter((r) => r === 'connect').length === 2);
    assert.equal(cache.l1Bypassed, true, 'deaf until a message proves otherwise');
    await worker.heartbeat();
    await eventually('hearing again', () => !cache.l1Bypassed);
    await worker.invalidate({ keys: ['k:1'] });
    await eventually('applied', () => cache.stats().messages.applied === 1);
    assert.equal(await cache.get('k:1'), undefined, 'the invalidation after the reconnect was heard');
  });

  it('a restart of the node it listens on: flush, another node, hearing again', async () => {
    const connects = flushes.filter((r) => r === 'connect').length;
    const port = Number(await subscriberPort());
    const index = cluster.nodes.findIndex((n) => n.port === port);
    assert.ok(index >= 0, `subscribed on a cluster node (${port})`);
    await cluster.restart(index);
    await eventually('resubscribed', () => flushes.filter((r) => r === 'connect').length === connects + 1);
    await worker.heartbeat();
    await eventually('hearing again', () => !cache.l1Bypassed);
  });

  /** The port of the node holding the subscriber's connection (CLIENT LIST TYPE pubsub). */
  async function subscriberPort(): Promise<number | undefined> {
    for (let i = 0; i < cluster.nodes.length; i++) {
      const node = cluster.nodeClient(i);
      const list = String(await node.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      node.disconnect();
      if (list.trim()) return cluster.nodes[i].port;
    }
    return undefined;
  }
});
