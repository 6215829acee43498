import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis, { Command } from 'ioredis';
import { CacheClient, CacheUnavailableError } from '@cdc/cache-client';
import { tagSetKey, tagTakeKeys } from '@cdc/protocol';
import { RedisClient, RedisInvalidationSink, connectRedis, createRedisClient, redisConfigFromEnv } from '@cdc/sink-redis';
import { testBatch } from '@cdc/sink-redis/sink-test-batch.test-helper';
import { RedisServer } from '@cdc/testing';

/**
 * A client process that freezes for good right after its first script (the tag take)
 * answered: every later command hangs, as if the process had been killed there.
 */
class FreezingRedis extends Redis {
  private frozen = false;
  readonly froze: Promise<void>;
  private markFrozen!: () => void;

  constructor(url: string) {
    super(url);
    this.froze = new Promise((resolve) => (this.markFrozen = resolve));
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    if (this.frozen) return new Promise(() => undefined);
    const reply = super.sendCommand(command, stream) as Promise<unknown>;
    if (command.name === 'evalsha' || command.name === 'eval') {
      // Registered before the caller's own continuation: the next command already hangs.
      reply.then(() => {
        this.frozen = true;
        this.markFrozen();
      }, () => undefined);
    }
    return reply;
  }
}

describe('worker and clients invalidating the same tag at once (one shared take protocol)', () => {
  let server: RedisServer;
  let workerRedis: RedisClient;
  let probe: Redis;
  const connections: Redis[] = [];

  const cacheClient = (redis: Redis = server.client()): CacheClient => {
    connections.push(redis);
    return new CacheClient({ redis, l1: false, redisTimeoutMs: 500, leaseWaitMs: 200 });
  };

  /** A key holding a value must be a member of its tag set, or held for deletion: else no invalidation reaches it. */
  const assertNoOrphans = async (tag: string, keys: readonly string[]): Promise<void> => {
    const { setKey, holdKey } = tagTakeKeys(tagSetKey(tag));
    const reachable = new Set([...(await probe.smembers(setKey)), ...(await probe.smembers(holdKey))]);
    for (const k of keys) {
      if (await probe.exists(k)) assert.ok(reachable.has(k), `${k} holds a value but neither the tag set nor the holding set has it (orphaned)`);
    }
  };

  const assertNothingHeld = async (tag: string): Promise<void> => {
    const { holdKey, epochKey } = tagTakeKeys(tagSetKey(tag));
    assert.equal(await probe.exists(holdKey, epochKey), 0, 'no holding set or epoch left behind');
  };

  before(async () => {
    server = await RedisServer.start();
    workerRedis = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
    await connectRedis(workerRedis);
    probe = server.client();
  });

  after(async () => {
    workerRedis?.disconnect();
    probe?.disconnect();
    for (const c of connections) c.disconnect();
    await server?.destroy();
  });

  it('a frozen client’s take is drained by the worker, and a slow worker page never releases a key re-taken meanwhile', async () => {
    const tag = 'shared';
    const reader = cacheClient();
    const otherClient = cacheClient();
    const frozenRedis = new FreezingRedis(server.url);
    const frozenClient = cacheClient(frozenRedis);
    const [k1, k2, k3] = ['p:1', 'p:2', 'p:3'];
    await reader.set(k1, 'old', { tags: [tag] });
    await reader.set(k2, 'old', { tags: [tag] });
    let frozenCall: Promise<unknown> | undefined;
    let interleaved = false;

    // The worker takes {k1, k2}, unlinks them, and stalls before releasing its page. Meanwhile:
    const worker = new RedisInvalidationSink({
      client: workerRedis,
      onTagStep: async (step) => {
        if (step !== 'unlinked' || interleaved) return;
        interleaved = true;
        // a client invalidates the tag: it drains the worker's members and finds nothing new to take,
        await otherClient.invalidateTags([tag]);
        // a reader refills k1 and re-tags it (lease, SADD, load, fill),
        assert.equal(await reader.getOrSet(k1, async () => 'fresh', { tags: [tag] }), 'fresh');
        assert.ok(await probe.exists(k1));
        // another client takes the tag (k1 with it) and freezes before deleting anything,
        frozenCall = frozenClient.invalidateTags([tag]).catch((err: unknown) => err);
        await frozenRedis.froze;
        // and a key is tagged after every take.
        await reader.getOrSet(k3, async () => 'after', { tags: [tag] });
      },
    });
    await worker.apply(testBatch({ tags: [tag] }));
    assert.ok(interleaved);
    assert.ok((await frozenCall) instanceof CacheUnavailableError, 'the frozen client’s call timed out');

    await assertNoOrphans(tag, [k1, k2, k3]);
    assert.equal(await probe.exists(k1, k2), 0, 'k2 (tagged before the take) and k1 (re-tagged before the frozen take) are gone');
    assert.equal(await probe.exists(k3), 1, 'a key tagged after every take survives');
    assert.deepEqual(await probe.smembers(tagSetKey(tag)), [k3]);
    await assertNothingHeld(tag);

    await worker.apply(testBatch({ tags: [tag] }));
    assert.equal(await probe.exists(k3), 0);
    assert.deepEqual(await probe.keys('cdc:tag*'), []);
  });

  it('worker and clients taking the same tag in loops while readers re-tag: no orphan, nothing held at the end', async () => {
    const tag = 'hot';
    const keys = Array.from({ length: 12 }, (_, i) => `hot:${i}`);
    const clients = [cacheClient(), cacheClient(), cacheClient()];
    const readers = [cacheClient(), cacheClient()];
    const worker = new RedisInvalidationSink({ client: workerRedis, scanCount: 3 });
    const rounds = 40;
    await Promise.all([
      (async () => {
        for (let i = 0; i < rounds; i++) await worker.apply(testBatch({ tags: [tag] }));
      })(),
      ...clients.map(async (c) => {
        for (let i = 0; i < rounds; i++) await c.invalidateTags([tag]);
      }),
      ...readers.map(async (r, n) => {
        for (let i = 0; i < rounds * 3; i++) {
          const k = keys[(i * 5 + n) % keys.length];
          // Every fourth read is plain cache-aside (SET, then SADD: docs/tag-sets.md), the rest go through leases.
          if (i % 4 === 0) await probe.set(k, `aside-${i}`).then(() => probe.sadd(tagSetKey(tag), k));
          else await r.getOrSet(k, async () => `loaded-${i}`, { tags: [tag] });
        }
      }),
    ]);
    await assertNoOrphans(tag, keys);
    await assertNothingHeld(tag);
    await clients[0].invalidateTags([tag]);
    assert.equal(await probe.exists(...keys), 0, 'one more invalidation reaches every key');
    assert.deepEqual(await probe.keys('cdc:tag*'), []);
  });
});
