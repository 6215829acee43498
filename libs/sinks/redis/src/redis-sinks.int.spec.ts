import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { CdcError, metricsRegistry, withRetry } from '@cdc/core';
import { RedisServer, freePort } from '@cdc/testing';
import { RedisDeadLetterSink, listDeadLetters } from './dead-letter-sink';
import { L1InvalidationMessage } from '@cdc/protocol';
import { L1PubSubSink } from './l1-pubsub-sink';
import { RedisClient, createRedisClient } from './redis-client';
import { redisConfigFromEnv } from './redis-config';
import { RedisInvalidationSink } from './redis-invalidation-sink';
import { l1MessageValidator } from './l1-schema.test-helper';
import { testBatch } from './sink-test-batch.test-helper';

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metricsRegistry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

function quietClient(server: RedisServer): Redis {
  const c = server.client();
  c.on('error', () => undefined);
  return c;
}

describe('Redis sinks against a real redis-server', () => {
  let server: RedisServer;
  let client: RedisClient;
  let probe: Redis;
  let sink: RedisInvalidationSink;

  before(async () => {
    server = await RedisServer.start();
    client = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
    probe = quietClient(server);
    sink = new RedisInvalidationSink({ client, chunkSize: 1000 });
    await sink.start();
  });

  after(async () => {
    client?.disconnect();
    probe?.disconnect();
    await server?.destroy();
  });

  it('unlinks the batch keys (in chunks) and leaves other keys alone, idempotently', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `product:${i}`);
    await probe.mset(Object.fromEntries([...keys, 'keep:1', 'keep:2'].map((k) => [k, 'v'])));
    const before = await metricValue('cdc_redis_keys_unlinked_total');
    await sink.apply(testBatch({ keys }));
    assert.equal(await probe.exists(...keys), 0);
    assert.equal(await probe.exists('keep:1', 'keep:2'), 2);
    assert.equal((await metricValue('cdc_redis_keys_unlinked_total')) - before, 2500);
    await sink.apply(testBatch({ keys })); // at-least-once: a replay is harmless
    assert.equal(await probe.exists('keep:1', 'keep:2'), 2);
  });

  it('invalidates a tag: deletes its members and removes exactly them, keeping a member added concurrently', async () => {
    await probe.mset({ 'p:1': 'a', 'p:2': 'b', 'p:3': 'c', 'late:1': 'fresh', 'other:1': 'x' });
    await probe.sadd('cdc:tag:category-7', 'p:1', 'p:2', 'p:3');
    await probe.sadd('cdc:tag:category-8', 'other:1');
    const racing = new RedisInvalidationSink({
      client,
      // Between our read and our delete, the application caches a fresh entry under the same tag.
      onTagMembersRead: async (tag, members) => {
        assert.equal(tag, 'category-7');
        assert.deepEqual([...members].sort(), ['p:1', 'p:2', 'p:3']);
        await probe.sadd('cdc:tag:category-7', 'late:1');
      },
    });
    await racing.apply(testBatch({ tags: ['category-7'] }));
    assert.equal(await probe.exists('p:1', 'p:2', 'p:3'), 0, 'members deleted');
    assert.deepEqual(await probe.smembers('cdc:tag:category-7'), ['late:1'], 'only the read members were removed');
    assert.equal(await probe.get('late:1'), 'fresh', 'the concurrently tagged key is untouched');
    assert.deepEqual(await probe.smembers('cdc:tag:category-8'), ['other:1']);
    assert.equal(await probe.exists('other:1'), 1);
  });

  it('invalidates a large tag set page by page (SSCAN) until it is empty', async () => {
    const members = Array.from({ length: 5000 }, (_, i) => `big:${i}`);
    await probe.mset(Object.fromEntries(members.map((k) => [k, '1'])));
    await probe.sadd('cdc:tag:big', ...members);
    assert.equal(await probe.object('ENCODING', 'cdc:tag:big'), 'hashtable');
    let pages = 0;
    const paged = new RedisInvalidationSink({ client, scanCount: 100, chunkSize: 250, onTagMembersRead: () => void pages++ });
    await paged.apply(testBatch({ tags: ['big'] }));
    assert.ok(pages > 1, `read in several pages (got ${pages})`);
    assert.equal(await probe.exists(...members), 0);
    assert.equal(await probe.exists('cdc:tag:big'), 0, 'an emptied set disappears');
    await paged.apply(testBatch({ tags: ['big', 'never-existed'] })); // missing tags are a no-op
  });

  it('deletes pattern matches only; an escaped glob matches only the literal key', async () => {
    await probe.mset({ 'product:*': 'literal', 'product:1': 'a', 'product:2': 'b', 'search:products:a': '1', 'search:products:b': '2', 'search:users:a': '3' });
    await sink.apply(testBatch({ patterns: ['product:\\*'] }));
    assert.equal(await probe.exists('product:*'), 0, 'the literal key is gone');
    assert.equal(await probe.exists('product:1', 'product:2'), 2, 'product:1 and product:2 are not matched by product:\\*');
    await sink.apply(testBatch({ patterns: ['search:products:*'] }));
    assert.equal(await probe.exists('search:products:a', 'search:products:b'), 0);
    assert.equal(await probe.exists('search:users:a', 'product:1'), 2);
  });

  it('stops a pattern at maxPatternKeys and counts the truncation', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `cap:${i}`);
    await probe.mset(Object.fromEntries(keys.map((k) => [k, '1'])));
    const capped = new RedisInvalidationSink({ client, maxPatternKeys: 20, scanCount: 10 });
    const truncatedBefore = await metricValue('cdc_redis_pattern_scan_truncated_total');
    await capped.apply(testBatch({ patterns: ['cap:*'] }));
    assert.equal(await probe.exists(...keys), 30, 'exactly maxPatternKeys deleted');
    assert.equal((await metricValue('cdc_redis_pattern_scan_truncated_total')) - truncatedBefore, 1);
  });

  it('confines a tag key that is not a set (WRONGTYPE) to that tag: the rest of the batch is applied', async () => {
    await probe.set('cdc:tag:broken', 'not a set');
    await probe.mset({ 'good:k1': 'v', 'good:k2': 'v', 'good:m1': 'v', 'good:m2': 'v', 'good:p:1': 'v' });
    await probe.sadd('cdc:tag:good', 'good:m1', 'good:m2');
    const errorsBefore = await metricValue('cdc_sink_errors_total', { sink: 'redis' });
    const rejectedBefore = await metricValue('cdc_redis_rejected_actions_total', { kind: 'tag' });
    const result = await sink.apply(testBatch({ keys: ['good:k1', 'good:k2'], tags: ['good', 'broken'], patterns: ['good:p:*'] }));
    assert.equal(await probe.exists('good:k1', 'good:k2', 'good:m1', 'good:m2', 'good:p:1', 'cdc:tag:good'), 0, 'the good ones are gone');
    assert.equal(result.rejected.length, 1, JSON.stringify(result.rejected));
    const [bad] = result.rejected;
    assert.deepEqual([bad.kind, bad.value], ['tag', 'broken']);
    assert.match(bad.reason, /WRONGTYPE/);
    assert.equal(await probe.get('cdc:tag:broken'), 'not a set', 'the bad key is left as it was');
    assert.equal((await metricValue('cdc_sink_errors_total', { sink: 'redis' })) - errorsBefore, 0, 'not a failed apply');
    assert.equal((await metricValue('cdc_redis_rejected_actions_total', { kind: 'tag' })) - rejectedBefore, 1);
  });

  it('publishes L1 messages in order, after the keys are gone, valid against the schema', async () => {
    const validate = l1MessageValidator();
    const l1 = new L1PubSubSink({ client, source: 'postgres', maxItemsPerMessage: 2, heartbeatIntervalMs: 0, channelLabel: (c) => c });
    await l1.start();
    const subscriber = quietClient(server);
    const checker = quietClient(server);
    const received: L1InvalidationMessage[] = [];
    const existsOnReceipt: Array<Promise<number>> = [];
    try {
      await subscriber.subscribe('cache:products');
      subscriber.on('message', (_channel: string, text: string) => {
        const message = JSON.parse(text) as L1InvalidationMessage;
        received.push(message);
        // What an L1 would do on receipt: reload from L2. The key must already be gone.
        if (message.keys.length) existsOnReceipt.push(checker.exists(...message.keys));
      });
      const batches = [1, 2, 3].map((n) =>
        testBatch({ keys: [`l1:${n}:a`, `l1:${n}:b`, `l1:${n}:c`], tags: [], channels: ['cache:products'], position: `0/${n}` }),
      );
      for (const batch of batches) {
        await probe.mset(Object.fromEntries([...batch.keys].map((k) => [k, 'cached'])));
        await sink.apply(batch); // L2 first, then L1, as the pipeline does
        await l1.apply(batch);
      }
      await waitUntil(() => received.length === 6);
      assert.deepEqual(
        received.map((m) => [m.position, m.part, m.parts, m.keys]),
        [
          ['0/1', 1, 2, ['l1:1:a', 'l1:1:b']],
          ['0/1', 2, 2, ['l1:1:c']],
          ['0/2', 1, 2, ['l1:2:a', 'l1:2:b']],
          ['0/2', 2, 2, ['l1:2:c']],
          ['0/3', 1, 2, ['l1:3:a', 'l1:3:b']],
          ['0/3', 2, 2, ['l1:3:c']],
        ],
      );
      assert.deepEqual(await Promise.all(existsOnReceipt), [0, 0, 0, 0, 0, 0]);
      for (const m of received) assert.ok(validate(m), JSON.stringify(validate.errors));
      assert.ok((await metricValue('cdc_l1_messages_published_total', { channel: 'cache:products' })) >= 6);
    } finally {
      subscriber.disconnect();
      checker.disconnect();
    }
  });

  it('writes dead letters to a capped stream and lists them newest first', async () => {
    const dlq = new RedisDeadLetterSink({ client, stream: 'test:dlq', maxLen: 10 });
    await dlq.publish([
      { reason: 'bad json', source: 'kafka', position: 'orders/0/41', payload: { raw: '{' }, at: '2024-05-01T00:00:00.000Z' },
      { reason: 'rule threw', source: 'postgres', position: '0/AB', payload: { id: 7 }, at: '2024-05-01T00:00:01.000Z' },
    ]);
    const letters = await listDeadLetters(client, 'test:dlq', 10);
    assert.deepEqual(
      letters.map((l) => [l.reason, l.source, l.position, l.payload, l.at, l.truncated]),
      [
        ['rule threw', 'postgres', '0/AB', { id: 7 }, '2024-05-01T00:00:01.000Z', false],
        ['bad json', 'kafka', 'orders/0/41', { raw: '{' }, '2024-05-01T00:00:00.000Z', false],
      ],
    );
    for (let i = 0; i < 10; i++) {
      await dlq.publish(Array.from({ length: 100 }, (_, j) => ({ reason: 'r', source: 's', position: `${i}/${j}`, payload: j, at: 'now' })));
    }
    const length = await probe.xlen('test:dlq');
    assert.ok(length >= 10 && length < 1002, `stream capped approximately (length ${length})`);
  });

  it('rejects quickly with a retriable error while Redis is down, and recovers when it is back', { timeout: 60_000 }, async () => {
    const l1 = new L1PubSubSink({ client, source: 'postgres' });
    await server.stop();
    const batch = testBatch({ keys: ['outage:1'], tags: ['outage'], patterns: ['outage:*'], channels: ['cache:outage'] });
    await assert.rejects(sink.apply(batch), (err: unknown) => err instanceof CdcError && err.retriable);
    await assert.rejects(l1.apply(batch), (err: unknown) => err instanceof CdcError && err.retriable);
    await server.restart();
    await probe.mset({ 'outage:1': 'x', 'outage:2': 'y' });
    await probe.sadd('cdc:tag:outage', 'outage:3');
    // The pipeline's own retry policy: backoff until ioredis has reconnected.
    await withRetry(() => sink.apply(batch), { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 100 });
    await withRetry(() => l1.apply(batch), { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 100 });
    assert.equal(await probe.exists('outage:1', 'outage:2', 'outage:3', 'cdc:tag:outage'), 0);
  });

  it('start() rejects with a retriable error when nothing listens', async () => {
    const nowhere = createRedisClient(redisConfigFromEnv({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
    try {
      await assert.rejects(new RedisInvalidationSink({ client: nowhere }).start(), (err: unknown) => err instanceof CdcError && err.retriable);
    } finally {
      nowhere.disconnect();
    }
  });

  it('fails a command with a retriable error when the server stops answering (no hang)', { timeout: 60_000 }, async () => {
    const impatient = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '300' }));
    const frozenSink = new RedisInvalidationSink({ client: impatient });
    await frozenSink.start();
    const pid = server.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP'); // accepts TCP, never replies
    try {
      await assert.rejects(frozenSink.apply(testBatch({ keys: ['frozen:1'] })), (err: unknown) => {
        assert.ok(err instanceof CdcError && err.retriable, String(err));
        assert.match(err.message, /timed out/);
        return true;
      });
    } finally {
      process.kill(pid, 'SIGCONT');
      impatient.disconnect();
    }
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}
