import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis, { Cluster } from 'ioredis';
import { RedisCluster } from '@cdc/testing';
import { RedisDeadLetterSink, listDeadLetters } from './dead-letter-sink';
import { L1InvalidationMessage, leaseKeyOf, tagTakeKeys } from '@cdc/protocol';
import { L1PubSubSink } from './l1-pubsub-sink';
import { RedisClient, createRedisClient } from './redis-client';
import { redisConfigFromEnv } from './redis-config';
import { RedisInvalidationSink } from './redis-invalidation-sink';
import { l1MessageValidator } from './l1-schema.test-helper';
import { testBatch } from './sink-test-batch.test-helper';
import { clusterSlotOf } from './slot-grouping';

describe('Redis sinks against a real 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: RedisClient;
  let probe: Cluster;
  let sink: RedisInvalidationSink;

  /** Which master (by port) holds each key right now. */
  async function mastersHolding(keys: readonly string[]): Promise<Set<number>> {
    const ports = new Set<number>();
    for (const node of probe.nodes('master')) {
      const found = await Promise.all(keys.map((k) => node.exists(k).catch(() => 0)));
      if (found.some((n) => n === 1)) ports.add(Number(node.options.port));
    }
    return ports;
  }

  async function setAll(keys: readonly string[], value = 'v'): Promise<void> {
    await Promise.all(keys.map((k) => probe.set(k, value)));
  }

  async function existing(keys: readonly string[]): Promise<number> {
    const found = await Promise.all(keys.map((k) => probe.exists(k)));
    return found.reduce((a, b) => a + b, 0);
  }

  before(async () => {
    cluster = await RedisCluster.start(3);
    client = createRedisClient(redisConfigFromEnv({ REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') }));
    probe = cluster.client({ enableAutoPipelining: true });
    probe.on('error', () => undefined);
    // Protocol-1 lease keys on: the lease test below checks them; everything else is the same either way.
    sink = new RedisInvalidationSink({ client, chunkSize: 100, deleteLeases: true });
    await sink.start();
  });

  after(async () => {
    client?.disconnect();
    probe?.disconnect();
    await cluster?.destroy();
  });

  it('refreshes a stale slot map after a MOVED reply, so the retried batch is routed right', async () => {
    const c = client as Cluster;
    // Two keys of different slots on the same master, mapped by the client to another master:
    // both commands of that pipeline come back MOVED, with different slots, which ioredis
    // does not retry (it only retries a pipeline whose commands all share one redirection).
    const owner = (key: string): string => c.slots[clusterSlotOf(key)][0];
    const keys: string[] = [];
    for (let i = 0; keys.length < 2; i++) {
      const key = `moved:${i}`;
      if (keys.length === 0 || (owner(key) === owner(keys[0]) && clusterSlotOf(key) !== clusterSlotOf(keys[0]))) keys.push(key);
    }
    const right = owner(keys[0]);
    const wrong = c
      .nodes('master')
      .map((n) => `${n.options.host}:${n.options.port}`)
      .find((k) => k !== right)!;
    await setAll(keys);
    for (const key of keys) c.slots[clusterSlotOf(key)] = [wrong];
    const staleSink = new RedisInvalidationSink({ client });
    await assert.rejects(staleSink.apply(testBatch({ keys })), /MOVED/, 'the first attempt went to the old owner');
    for (let t = 0; t < 50 && keys.some((k) => owner(k) !== right); t++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(keys.map(owner), [right, right], 'the slot map was refreshed');
    assert.deepEqual((await staleSink.apply(testBatch({ keys }))).rejected, []);
    assert.equal(await existing(keys), 0, 'the retry deleted the keys');
  });

  it('computes the same hash slots as the server', async () => {
    for (const key of ['foo', 'product:1', '{user:7}:cart', 'cdc:tag:category-3', 'ключ', '']) {
      assert.equal(clusterSlotOf(key), Number(await probe.cluster('KEYSLOT', key)), key);
    }
  });

  it('unlinks keys spread over every master without CROSSSLOT errors', async () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `product:${i}`);
    const keep = ['keep:a', 'keep:b', 'keep:c'];
    await setAll([...keys, ...keep]);
    assert.equal((await mastersHolding(keys.slice(0, 30))).size, 3, 'keys live on all three masters');
    await sink.apply(testBatch({ keys }));
    assert.equal(await existing(keys), 0);
    assert.equal(await existing(keep), 3);
    await sink.apply(testBatch({ keys })); // replay is harmless
  });

  it('invalidates a tag whose members live in other slots, keeping a concurrently added member', async () => {
    const members = Array.from({ length: 60 }, (_, i) => `tagged:${i}`);
    await setAll([...members, 'late:tagged']);
    await probe.sadd('cdc:tag:category-3', ...members);
    const racing = new RedisInvalidationSink({
      client,
      onTagMembersRead: async () => {
        await probe.sadd('cdc:tag:category-3', 'late:tagged');
      },
    });
    await racing.apply(testBatch({ tags: ['category-3'] }));
    assert.equal(await existing(members), 0);
    assert.deepEqual(await probe.smembers('cdc:tag:category-3'), ['late:tagged']);
    assert.equal(await probe.exists('late:tagged'), 1);
  });

  it('deletes keys and tag members with their protocol-1 leases on every master; a crashed take is recovered', async () => {
    const keys = [...Array.from({ length: 30 }, (_, i) => `lk:${i}`), 'user:{7}:profile'];
    const members = Array.from({ length: 30 }, (_, i) => `lm:${i}`);
    const all = [...keys, ...members];
    await setAll([...all, ...all.map(leaseKeyOf)]);
    assert.equal((await mastersHolding(all)).size, 3, 'keys live on all three masters');
    // One tag set with a hash tag of its own, one without: each holding set must share its slot.
    await probe.sadd('cdc:tag:{shop}:lt', ...members.slice(0, 15));
    await probe.sadd('cdc:tag:lt', ...members.slice(15));
    const crashing = new RedisInvalidationSink({
      client,
      deleteLeases: true,
      onTagStep: (step) => {
        if (step === 'taken') throw new Error('simulated crash after the take');
      },
    });
    await assert.rejects(crashing.apply(testBatch({ tags: ['{shop}:lt', 'lt'] })), /simulated crash/);
    assert.equal(await existing(members), members.length, 'nothing deleted by the crashed run');
    const result = await sink.apply(testBatch({ keys, tags: ['{shop}:lt', 'lt'] }));
    assert.deepEqual(result.rejected, []);
    assert.equal(await existing(all), 0, 'keys and members gone');
    assert.equal(await existing(all.map(leaseKeyOf)), 0, 'and their leases');
    assert.equal(await existing(['cdc:tag:{shop}:lt', 'cdc:tag:lt', ...Object.values(tagTakeKeys('cdc:tag:{shop}:lt')), ...Object.values(tagTakeKeys('cdc:tag:lt'))]), 0);
  });

  it('confines a WRONGTYPE tag set to its tag and never lets a pattern reach the reserved prefix', async () => {
    const reserved = ['cdc:test:dead-letter', 'cdc:{cdn}:outbox', 'cdc:lease:{rk}', 'cdc:tag:rx'];
    await setAll(['cdc:test:dead-letter', 'cdc:{cdn}:outbox', 'cdc:lease:{rk}', 'cdc:tag:wrong', 'rk:1', 'rk:2', 'rk:3']);
    await probe.sadd('cdc:tag:rx', 'rk:3');
    const result = await sink.apply(testBatch({ keys: ['rk:1'], tags: ['wrong', 'rx'], patterns: ['*'] }));
    assert.deepEqual(result.rejected.map((r) => [r.kind, r.value]), [['tag', 'wrong']]);
    assert.match(result.rejected[0].reason, /WRONGTYPE/);
    assert.equal(await existing(['rk:1', 'rk:2', 'rk:3']), 0);
    assert.equal(await existing(reserved.slice(0, 3)), 3, 'reserved keys survive the * pattern');
    assert.equal(await probe.get('cdc:tag:wrong'), 'v');
    await Promise.all([...reserved, 'cdc:tag:wrong'].map((k) => probe.del(k)));
  });

  it('finds pattern matches on every master, and respects the cap across masters', async () => {
    const keys = Array.from({ length: 90 }, (_, i) => `search:products:${i}`);
    await setAll([...keys, 'search:users:1', 'search:products:*']);
    assert.equal((await mastersHolding(keys)).size, 3);
    await sink.apply(testBatch({ patterns: ['search:products:\\*'] }));
    assert.equal(await probe.exists('search:products:*'), 0);
    assert.equal(await existing(keys), 90, 'the escaped pattern deleted only the literal key');
    const capped = new RedisInvalidationSink({ client, maxPatternKeys: 10, scanCount: 5 });
    await capped.apply(testBatch({ patterns: ['search:products:*'] }));
    assert.equal(await existing(keys), 80, 'exactly maxPatternKeys deleted across masters');
    await sink.apply(testBatch({ patterns: ['search:products:*'] }));
    assert.equal(await existing(keys), 0);
    assert.equal(await probe.exists('search:users:1'), 1);
  });

  it('delivers L1 messages in order to a subscriber on any node, after the keys are gone', async () => {
    const validate = l1MessageValidator();
    const l1 = new L1PubSubSink({ client, source: 'postgres', heartbeatIntervalMs: 0 });
    await l1.start();
    // Subscribe on every node: PUBLISH in a Cluster reaches subscribers of all nodes.
    const subscribers: Redis[] = cluster.nodes.map((_, i) => cluster.nodeClient(i));
    const received: L1InvalidationMessage[][] = subscribers.map(() => []);
    const existsOnReceipt: Array<Promise<number>> = [];
    try {
      await Promise.all(
        subscribers.map(async (sub, i) => {
          sub.on('error', () => undefined);
          await sub.subscribe('cache:cluster');
          sub.on('message', (_c: string, text: string) => {
            const m = JSON.parse(text) as L1InvalidationMessage;
            received[i].push(m);
            existsOnReceipt.push(existing(m.keys));
          });
        }),
      );
      for (let n = 1; n <= 5; n++) {
        const batch = testBatch({ keys: [`c:${n}:x`, `c:${n}:y`, `c:${n}:z`], channels: ['cache:cluster'], position: `0/${n}` });
        await setAll([...batch.keys]);
        await sink.apply(batch);
        await l1.apply(batch);
      }
      await waitUntil(() => received.every((r) => r.length === 5));
      for (const r of received) {
        assert.deepEqual(r.map((m) => m.position), ['0/1', '0/2', '0/3', '0/4', '0/5'], 'in order on every node');
        for (const m of r) assert.ok(validate(m), JSON.stringify(validate.errors));
      }
      assert.ok((await Promise.all(existsOnReceipt)).every((n) => n === 0), 'keys were gone when each message arrived');
    } finally {
      for (const s of subscribers) s.disconnect();
    }
  });

  it('writes and lists dead letters through the Cluster client', async () => {
    const dlq = new RedisDeadLetterSink({ client });
    await dlq.publish([{ reason: 'r', source: 'postgres', position: '0/1', payload: { id: 1 }, at: '2024-01-01T00:00:00.000Z' }]);
    const [letter] = await listDeadLetters(client);
    assert.deepEqual([letter.reason, letter.payload], ['r', { id: 1 }]);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}
