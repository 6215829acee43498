import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { metricsRegistry } from '@cdc/core';
import { UNLINK_WITH_LEASES, leaseKeyOf } from '@cdc/protocol';
import { RedisServer } from '@cdc/testing';
import { RedisClient, connectRedis, createRedisClient } from './redis-client';
import { redisConfigFromEnv } from './redis-config';
import { RedisInvalidationSink } from './redis-invalidation-sink';
import { testBatch } from './sink-test-batch.test-helper';
import { TagStep } from './tag-invalidator';

describe('Redis invalidation sink: tag sets under concurrent readers', () => {
  let server: RedisServer;
  let client: RedisClient;
  let probe: Redis;

  before(async () => {
    server = await RedisServer.start();
    client = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
    probe = server.client();
    probe.on('error', () => undefined);
    await connectRedis(client);
  });

  after(async () => {
    client?.disconnect();
    probe?.disconnect();
    await server?.destroy();
  });

  // One run per step: a cache-aside reader (the docs' "SET then SADD") refills a member of the
  // tag and caches a new key under the tag at exactly that step. A later step would heal an
  // earlier one (the reader's SADD re-adds the member), so each step gets its own run.
  for (const step of ['before-page', 'taken', 'unlinked', 'released'] as const satisfies readonly TagStep[]) {
    it(`never orphans a key that a reader refills and re-tags at step "${step}" of a tag invalidation`, async () => {
      const tag = `race-${step}`;
      const setKey = `cdc:tag:${tag}`;
      const [m1, m2, fresh] = [`${tag}:m1`, `${tag}:m2`, `${tag}:new`];
      await probe.mset({ [m1]: 'old', [m2]: 'old' });
      await probe.sadd(setKey, m1, m2);
      const seen: TagStep[] = [];
      let takeDone = false;
      let tagged: 'before-take' | 'after-take' | undefined;
      const sink = new RedisInvalidationSink({
        client,
        onTagStep: async (at, t) => {
          assert.equal(t, tag);
          seen.push(at);
          if (at === 'taken') takeDone = true;
          if (at !== step || tagged) return;
          tagged = takeDone ? 'after-take' : 'before-take';
          await probe.mset({ [m1]: 'refilled', [fresh]: 'fresh' });
          await probe.sadd(setKey, m1, fresh);
        },
      });
      await sink.apply(testBatch({ tags: [tag] }));
      assert.ok(tagged, `the hook ran at ${step} (saw ${seen})`);
      assert.equal(await probe.exists(m2), 0, 'a key tagged before the take is unlinked');
      const members = new Set(await probe.smembers(setKey));
      if (tagged === 'after-take') {
        assert.ok(members.has(fresh), 'a key tagged after the take is still a member');
        assert.equal(await probe.get(fresh), 'fresh');
      } else {
        assert.equal(await probe.exists(fresh), 0, 'a key tagged before the take is unlinked');
      }
      // The invariant the race broke: a key that holds a value is a member of its tag set.
      for (const key of [m1, m2, fresh]) {
        if (await probe.exists(key)) assert.ok(members.has(key), `${key} holds a value but no tag set points at it (orphaned)`);
      }
      // The next invalidation of the tag reaches everything tagged meanwhile.
      await new RedisInvalidationSink({ client }).apply(testBatch({ tags: [tag] }));
      assert.equal(await probe.exists(m1, m2, fresh), 0);
    });
  }

  it('keeps the members it took when it crashes before the UNLINK; the next invalidation deletes them', async () => {
    const members = Array.from({ length: 30 }, (_, i) => `crash:${i}`);
    await probe.mset(Object.fromEntries(members.map((k) => [k, 'stale'])));
    await probe.sadd('cdc:tag:crash', ...members);
    const crashing = new RedisInvalidationSink({
      client,
      onTagStep: (step) => {
        if (step === 'taken') throw new Error('simulated crash between the take and the UNLINK');
      },
    });
    await assert.rejects(crashing.apply(testBatch({ tags: ['crash'] })), /simulated crash/);
    assert.equal(await probe.exists(...members), members.length, 'nothing was unlinked');
    assert.equal(await probe.exists('cdc:tag:crash'), 0, 'the membership was taken');
    // A reader tags a key after the crashed take; the retry invalidates it too (a retry is a new take).
    await probe.set('crash:late', 'v');
    await probe.sadd('cdc:tag:crash', 'crash:late');
    await new RedisInvalidationSink({ client }).apply(testBatch({ tags: ['crash'] }));
    assert.equal(await probe.exists(...members, 'crash:late'), 0, 'the taken members were recovered and deleted');
    assert.deepEqual(await probe.keys('*crash*'), [], 'no holding set or tag set left behind');
  });

  it('confines a key Redis refuses (NOPERM) to that key: the other keys of the same UNLINK go', async () => {
    await probe.call('ACL', 'SETUSER', 'limited', 'on', '>secret', '+@all', 'resetkeys', '~app:*', '~cdc:*');
    const limited = createRedisClient(redisConfigFromEnv({ REDIS_URL: `redis://limited:secret@127.0.0.1:${server.port}` }));
    try {
      await connectRedis(limited);
      await probe.mset({ 'app:1': 'v', 'app:2': 'v', 'other:1': 'v' });
      const result = await new RedisInvalidationSink({ client: limited }).apply(testBatch({ keys: ['app:1', 'other:1', 'app:2'] }));
      assert.equal(await probe.exists('app:1', 'app:2'), 0, 'the allowed keys are gone');
      assert.equal(await probe.exists('other:1'), 1);
      assert.deepEqual(
        result.rejected.map((r) => [r.kind, r.value]),
        [['key', 'other:1']],
      );
      assert.match(result.rejected[0].reason, /NOPERM/);
    } finally {
      limited.disconnect();
    }
  });

  it('never deletes a key under the reserved prefix with a pattern, and counts what it skipped', async () => {
    const reserved = ['cdc:dead-letter', 'cdc:{cdn}:outbox', 'cdc:tag:x', 'cdc:lease:{k}', 'cdc:backfill:cursor'];
    await probe.flushall();
    await probe.xadd('cdc:dead-letter', '*', 'reason', 'r');
    await probe.xadd('cdc:{cdn}:outbox', '*', 'purge', 'p');
    await probe.sadd('cdc:tag:x', 'c:1');
    await probe.set('cdc:lease:{k}', 'token');
    await probe.set('cdc:backfill:cursor', '42');
    const sink = new RedisInvalidationSink({ client, scanCount: 2 });
    for (const pattern of ['c*', '*']) {
      await probe.mset({ 'c:1': 'v', 'c:2': 'v', 'cart:9': 'v', 'product:1': 'v' });
      const skippedBefore = await metricValue('cdc_redis_pattern_reserved_skipped_total');
      const result = await sink.apply(testBatch({ patterns: [pattern] }));
      assert.deepEqual(result.rejected, []);
      assert.equal(await probe.exists(...reserved), reserved.length, `${pattern}: the reserved keys are all there`);
      assert.equal(await probe.exists('c:1', 'c:2', 'cart:9'), 0, `${pattern}: the normal keys went`);
      assert.equal(await probe.exists('product:1'), pattern === '*' ? 0 : 1);
      assert.equal((await metricValue('cdc_redis_pattern_reserved_skipped_total')) - skippedBefore, reserved.length);
    }
    await probe.flushall();
  });

  it('keeps deleting keys with their protocol-1 leases after the script cache is flushed (SCRIPT FLUSH, a restarted Redis)', async () => {
    const sink = new RedisInvalidationSink({ client, deleteLeases: true });
    const keys = ['flush:1', 'flush:2'];
    for (let round = 0; round < 2; round++) {
      await probe.mset(Object.fromEntries(keys.flatMap((k) => [[k, 'v'], [leaseKeyOf(k), 'token']])));
      assert.deepEqual((await sink.apply(testBatch({ keys }))).rejected, []);
      assert.equal(await probe.exists(...keys, ...keys.map(leaseKeyOf)), 0, `round ${round}: keys and leases gone`);
      await probe.script('FLUSH'); // the next EVALSHA on the same connection gets NOSCRIPT
    }
  });

  it('deleteLeases: true deletes the protocol-1 lease of every key, tag member and pattern match in the same command (the default does not)', async () => {
    const keys = ['lease:k', 'user:{7}:profile', 'lease:m', 'lease:p:1'];
    const arm = async (): Promise<void> => {
      await probe.mset(Object.fromEntries(keys.flatMap((k) => [[k, 'v'], [leaseKeyOf(k), 'token']])));
      await probe.sadd('cdc:tag:t', 'lease:m');
    };
    const batch = (): ReturnType<typeof testBatch> => testBatch({ keys: ['lease:k', 'user:{7}:profile'], tags: ['t'], patterns: ['lease:p:*'] });
    await arm();
    // What each command the sink sent deletes: a plain UNLINK its arguments; the unlink
    // script (EVAL/EVALSHA numkeys keys... prefix suffix) its keys and prefix + key + suffix.
    const deletes: string[][] = [];
    const monitor = await probe.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') return; // the script's own calls: what counts is the command the sink sent
      const name = args[0]?.toLowerCase();
      if (name === 'unlink') deletes.push(args.slice(1));
      if ((name === 'eval' || name === 'evalsha') && (args[1] === UNLINK_WITH_LEASES.lua || args[1] === sha1(UNLINK_WITH_LEASES.lua))) {
        const scriptKeys = args.slice(3, 3 + Number(args[2]));
        const [prefix, suffix] = args.slice(-2);
        deletes.push([...scriptKeys, ...scriptKeys.map((k) => prefix + k + suffix)]);
      }
    });
    try {
      await new RedisInvalidationSink({ client, deleteLeases: true }).apply(batch());
      await waitUntil(() => deletes.length >= 3);
    } finally {
      monitor.disconnect();
    }
    assert.equal(await probe.exists(...keys, ...keys.map(leaseKeyOf)), 0, 'keys and leases are gone');
    for (const k of keys) {
      assert.ok(
        deletes.some((args) => args.includes(k) && args.includes(leaseKeyOf(k))),
        `${k} and its lease went in one command: ${JSON.stringify(deletes)}`,
      );
    }
    await arm();
    await new RedisInvalidationSink({ client }).apply(batch());
    assert.equal(await probe.exists(...keys), 0);
    assert.equal(await probe.exists(...keys.map(leaseKeyOf)), keys.length, 'protocol-1 lease keys untouched by default (protocol 2 keeps the lease in the key)');
  });
});

async function metricValue(name: string): Promise<number> {
  const metric = metricsRegistry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
