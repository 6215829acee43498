import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { RedisCommandRunner } from './redis-command-runner';
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
