import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { RedisCommandRunner } from './redis-command-runner';
import { L1PubSubSink } from './l1-pubsub-sink';
import { RedisInvalidationSink } from './redis-invalidation-sink';
import { testBatch } from './sink-test-batch.test-helper';

/** Counts the pipelines a client sends. */
function countPipelines(client: Redis): { readonly count: number; restore(): void } {
  const original = client.pipeline;
  const counter = { count: 0, restore: () => void (client.pipeline = original) };
  client.pipeline = function (this: Redis, ...args: Parameters<Redis['pipeline']>) {
    counter.count++;
    return original.apply(this, args);
  } as Redis['pipeline'];
  return counter;
}

describe('RedisCommandRunner against a real redis-server', () => {
  let server: RedisServer;
  let client: Redis;

  before(async () => {
    server = await RedisServer.start();
    client = server.client();
  });

  after(async () => {
    client?.disconnect();
    await server?.destroy();
  });

  it('sends runs started side by side in one pipeline, each getting its own replies and refusals', async () => {
    const runner = new RedisCommandRunner(client);
    await client.mset('a', '1', 'b', '2', 'h', 'x');
    await client.hset('hash', 'f', 'v');
    const pipelines = countPipelines(client);
    try {
      const [first, second] = await Promise.all([
        runner.runSettled([{ name: 'get', args: ['a'], slot: 0 }, { name: 'lpush', args: ['hash', 'x'], slot: 0 }], 'first'),
        runner.runSettled([{ name: 'get', args: ['b'], slot: 0 }], 'second'),
      ]);
      assert.equal(pipelines.count, 1, 'one pipeline for both runs');
      assert.deepEqual(first[0], { ok: true, reply: '1' });
      assert.equal(first[1].ok, false);
      assert.match((first[1] as { error: Error }).error.message, /WRONGTYPE/);
      assert.deepEqual(second, [{ ok: true, reply: '2' }]);
    } finally {
      pipelines.restore();
    }
  });

  it('keeps a later run that starts after the flush in a pipeline of its own', async () => {
    const runner = new RedisCommandRunner(client);
    const pipelines = countPipelines(client);
    try {
      assert.deepEqual(await runner.run([{ name: 'get', args: ['a'], slot: 0 }], 'first'), ['1']);
      assert.deepEqual(await runner.run([{ name: 'get', args: ['b'], slot: 0 }], 'second'), ['2']);
      assert.equal(pipelines.count, 2);
    } finally {
      pipelines.restore();
    }
  });

  it('fails every run of a pipeline whose connection is gone', async () => {
    const lost = server.client();
    lost.on('error', () => undefined);
    await lost.ping();
    lost.disconnect();
    const runner = new RedisCommandRunner(lost);
    const results = await Promise.allSettled([
      runner.runSettled([{ name: 'get', args: ['a'], slot: 0 }], 'first'),
      runner.runSettled([{ name: 'get', args: ['b'], slot: 0 }], 'second'),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });

  it('sends one batch\'s L1 publishes and the next batch\'s L2 deletes, started side by side, in one pipeline', async () => {
    const l2 = new RedisInvalidationSink({ client });
    const l1 = new L1PubSubSink({ client, source: 'test', heartbeatIntervalMs: 0 });
    const subscriber = server.client();
    const heard: string[] = [];
    await subscriber.subscribe('l1:p');
    subscriber.on('message', (_channel, message: string) => heard.push((JSON.parse(message) as { keys: string[] }).keys.join()));
    await client.set('product:3', 'v');
    const pipelines = countPipelines(client);
    try {
      await Promise.all([l1.apply(testBatch({ keys: ['product:2'], channels: ['l1:p'] })), l2.apply(testBatch({ keys: ['product:3'] }))]);
      assert.equal(pipelines.count, 1);
      assert.equal(await client.exists('product:3'), 0);
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(heard, ['product:2']);
    } finally {
      pipelines.restore();
      subscriber.disconnect();
    }
  });

  it('deletes a batch of keys and tags in one round trip when the tag sets are empty', async () => {
    const sink = new RedisInvalidationSink({ client });
    await client.mset('product:1', 'v', 'product:2', 'v');
    const pipelines = countPipelines(client);
    try {
      await sink.apply(testBatch({ keys: ['product:1', 'product:2'], tags: ['category-1', 'category-2'] }));
      assert.equal(pipelines.count, 1, 'key UNLINKs and the tag takes share a pipeline');
      assert.equal(await client.exists('product:1', 'product:2'), 0);
    } finally {
      pipelines.restore();
    }
  });
});
