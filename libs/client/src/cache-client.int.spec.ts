import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { isLeaseMarker, leaseKeyOf, tagSetKey } from '@cdc/protocol';
import { RedisServer } from '@cdc/testing';
import { CacheClient } from './cache-client';
import { CacheSerializationError, CacheWrongTypeError, LoaderTimeoutError } from './errors';
import type { CacheClientOptions } from './options';
import { FakeWorker, deferred, eventually } from './fake-worker.test-helper';

describe('CacheClient against a real Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let probe: Redis;
  const clients: CacheClient[] = [];
  let n = 0;
  /** A fresh key per test so tests never see each other's data. */
  const key = (name: string): string => `${name}:${++n}`;

  const client = (opts: Partial<CacheClientOptions> = {}): CacheClient => {
    const c = new CacheClient({ redis, l1: false, ...opts });
    clients.push(c);
    return c;
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

  it('get/set/mget/delete with ms TTLs, a key prefix and undefined on a miss', async () => {
    const cache = client({ keyPrefix: 'app:' });
    const k = key('basic');
    assert.equal(await cache.get(k), undefined);
    await cache.set(k, { a: 1 }, { ttlMs: 5000, tags: ['t-basic'] });
    assert.deepEqual(await cache.get(k), { a: 1 });
    const pttl = await probe.pttl(`app:${k}`);
    assert.ok(pttl > 0 && pttl <= 5000, `pttl ${pttl}`);
    assert.ok(await probe.sismember(tagSetKey('t-basic'), `app:${k}`), 'the full key is in the tag set');
    assert.deepEqual(await cache.mget([k, 'nope']), [{ a: 1 }, undefined]);
    assert.equal(await cache.delete(k), true);
    assert.equal(await cache.get(k), undefined);
  });

  it('a value not written by the library (old cache-aside code) reads as a miss and the next fill replaces it', async () => {
    const cache = client();
    const k = key('legacy');
    await probe.set(k, JSON.stringify({ old: true }));
    assert.equal(await cache.get(k), undefined);
    assert.deepEqual(await cache.getOrSet(k, async () => ({ fresh: true })), { fresh: true });
    assert.deepEqual(await cache.get(k), { fresh: true });
  });

  it('an entry past its expiry that Redis still holds is replaced by the next fill, and a lease marker is never read as a value', async () => {
    const cache = client();
    const k = key('expired');
    // Written by a client whose clock runs ahead of Redis: its expiry has passed, its PX has not.
    await probe.set(k, `{"e":${Date.now() - 1000}}\n"old"`, 'PX', 60_000);
    assert.equal(await cache.get(k), undefined);
    assert.equal(await cache.getOrSet(k, async () => 'fresh'), 'fresh');
    assert.equal(await cache.get(k), 'fresh');
    const m = key('marker');
    await probe.set(m, '\u0000lease:someone-else', 'PX', 60_000);
    assert.equal(await cache.get(m), undefined, 'a reader holding the lease is a miss for get()');
    assert.deepEqual(await cache.mget([m]), [undefined]);
  });

  it('an explicit set() while a loader holds the lease replaces the marker: that fill is refused', async () => {
    const cache = client();
    const writer = client();
    const k = key('set-revokes');
    const loading = deferred();
    const goOn = deferred();
    const result = cache.getOrSet(k, async () => {
      loading.resolve();
      await goOn.promise;
      return 'read-before-the-write';
    });
    await loading.promise;
    await writer.set(k, 'written');
    goOn.resolve();
    assert.equal(await result, 'read-before-the-write');
    assert.equal(cache.stats().fillsRefused, 1);
    assert.equal(await writer.get(k), 'written');
  });

  it('delete, set and invalidateTags also revoke a cache-client 0.1 reader’s lease key (rolling upgrades)', async () => {
    const cache = client();
    const [k1, k2, k3] = [key('p1'), key('p1'), key('p1')];
    await probe.sadd(tagSetKey('t-p1'), k3);
    for (const k of [k1, k2, k3]) await probe.set(leaseKeyOf(k), '0.1-token', 'PX', 60_000);
    await cache.delete(k1);
    await cache.set(k2, 'v');
    await cache.invalidateTags(['t-p1']);
    assert.equal(await probe.exists(leaseKeyOf(k1), leaseKeyOf(k2), leaseKeyOf(k3)), 0);
  });

  it('the fill failing because Redis went away returns the loaded value without running the loader twice', async () => {
    const doomed = await RedisServer.start();
    const r = doomed.client();
    r.on('error', () => undefined);
    const cache = new CacheClient({ redis: r, l1: false, redisTimeoutMs: 200 });
    let loads = 0;
    try {
      const value = await cache.getOrSet(key('dies'), async () => {
        loads++;
        await doomed.stop(true);
        return 'loaded';
      });
      assert.equal(value, 'loaded');
      assert.equal(loads, 1);
      assert.equal(cache.stats().degraded, 1);
    } finally {
      await cache.close();
      r.disconnect();
      await doomed.destroy();
    }
  });

  it('getOrSet loads once, fills L2 under a lease, then L1 serves it', async () => {
    const cache = client({ l1: {}, l1Unsafe: true });
    const k = key('gos');
    let calls = 0;
    const loader = async (): Promise<string> => `v${++calls}`;
    assert.equal(await cache.getOrSet(k, loader, { ttlMs: 10_000, tags: ['t-gos'] }), 'v1');
    assert.equal(await cache.wrap(k, loader), 'v1');
    assert.equal(calls, 1);
    const stored = await probe.get(k);
    assert.ok(stored !== null && !isLeaseMarker(stored), 'the fill replaced the lease marker with the value');
    assert.equal(cache.stats().hits.l1, 1);
    assert.equal(cache.stats().fills, 1);
    // another process (no L1) gets it from L2
    const other = client();
    assert.equal(await other.getOrSet(k, loader), 'v1');
    assert.equal(other.stats().hits.l2, 1);
  });

  it('refuses a fill whose lease the worker revoked while the loader was reading (stale-set race)', async () => {
    const cache = client();
    const worker = new FakeWorker(probe, 'unused');
    const k = key('race');
    const reading = deferred();
    const goOn = deferred();
    const refused: string[] = [];
    cache.on('fill-refused', (e) => refused.push(e.key));
    const result = cache.getOrSet(
      k,
      async () => {
        reading.resolve();
        await goOn.promise; // the loader has read the old row; the commit and the worker's delete happen now
        return 'old';
      },
      { tags: ['t-race'] },
    );
    await reading.promise;
    assert.ok(await probe.sismember(tagSetKey('t-race'), k), 'tag registered before the loader ran');
    assert.ok(isLeaseMarker((await probe.get(k)) ?? ''), 'the lease is held in k itself, so the worker’s plain UNLINK of k revokes it');
    await worker.invalidate({ tags: ['t-race'] }, false);
    goOn.resolve();
    assert.equal(await result, 'old', 'the caller still gets the value it loaded');
    assert.equal(await probe.get(k), null, 'but it is not cached');
    assert.deepEqual(refused, [k]);
    assert.equal(cache.stats().fillsRefused, 1);
  });

  it('a caller that joins an in-process load whose lease is then revoked loads again instead of taking the old row', async () => {
    const cache = client();
    const worker = new FakeWorker(probe, 'unused');
    const k = key('joined');
    let row = 'old';
    const reading = deferred();
    const goOn = deferred();
    let loads = 0;
    const loader = async (): Promise<string> => {
      loads++;
      const read = row;
      if (loads === 1) {
        reading.resolve();
        await goOn.promise; // the first load has read the old row and stalls before its fill
      }
      return read;
    };
    const first = cache.getOrSet(k, loader);
    await reading.promise;
    row = 'new';
    await worker.invalidate({ keys: [k] }, false); // the change commits and the worker deletes k (and the lease in it)
    const joinedEarly = cache.getOrSet(k, loader); // arrives after the invalidation, joins the load in flight
    goOn.resolve();
    assert.equal(await first, 'old', 'the caller whose read began before the change gets what it read');
    assert.equal(await joinedEarly, 'new', 'the caller that arrived after the invalidation does not get the old row');
    assert.equal(loads, 2);
    assert.equal(cache.stats().sharedLoadsRetried, 1);
    assert.equal(cache.stats().fillsRefused, 1);
    assert.equal(await cache.get(k), 'new', 'the second load filled');
  });

  it('a caller that joins a load whose L2 read was overtaken by an invalidation heard here loads again', async () => {
    const cache = client({ l1: {}, l1Unsafe: true });
    const writer = client();
    const k = key('joined-get');
    await writer.set(k, 'old');
    // The GET answers with the old value, but its reply is handled only after this process has heard the invalidation.
    const l2 = (cache as unknown as { l2: { get: (key: string) => Promise<string | null> } }).l2;
    const realGet = l2.get.bind(l2);
    const replyHeld = deferred();
    const replied = deferred();
    l2.get = async (full: string) => {
      const raw = await realGet(full);
      l2.get = realGet;
      replied.resolve();
      await replyHeld.promise;
      return raw;
    };
    const first = cache.getOrSet(k, async () => 'unused');
    await replied.promise;
    await probe.unlink(k); // the worker's delete, then its message, applied by this process's subscriber
    cache.applyInvalidation({ keys: [k], tags: [], patterns: [] });
    const joined = cache.getOrSet(k, async () => 'new');
    replyHeld.resolve();
    assert.equal(await first, 'old', 'the starter’s read began before the delete');
    assert.equal(await joined, 'new', 'the joiner arrived after this process heard the invalidation');
    assert.equal(cache.stats().sharedLoadsRetried, 1);
  });

  it('a load begun while L1 is bypassed (deaf) is not stored in L1 even if hearing resumes, and its joiners load again', async () => {
    const cache = client({ l1: {}, subscriber: { channels: ['never-heard'], silenceMs: 60_000 } });
    assert.equal(cache.l1Bypassed, true, 'not connected: nothing heard yet');
    const l1 = (cache as unknown as { l1: { peek(k: string): unknown } }).l1;
    const gated = (gate: Promise<void>, value: string) => async (): Promise<string> => {
      await gate;
      return value;
    };
    // Hearing resumes while the load is in flight: what it read while deaf still stays out of L1.
    const k1 = key('deaf');
    const gate1 = deferred();
    const first = cache.getOrSet(k1, gated(gate1.promise, 'v1'));
    await eventually('the lease to be taken', async () => (await probe.exists(k1)) === 1);
    (cache as unknown as { l1Usable: boolean }).l1Usable = true;
    gate1.resolve();
    assert.equal(await first, 'v1');
    assert.equal(l1.peek(k1), undefined, 'what was read while deaf never enters L1');
    (cache as unknown as { l1Usable: boolean }).l1Usable = false;
    // A joiner cannot know what this deaf process missed: it loads again (here the retry finds L2 filled).
    const k2 = key('deaf');
    const gate2 = deferred();
    let loads = 0;
    const second = cache.getOrSet(k2, async () => {
      loads++;
      await gate2.promise;
      return 'v2';
    });
    await eventually('the second load to start', () => loads === 1);
    const joined = cache.getOrSet(k2, async () => `joiner-${++loads}`);
    gate2.resolve();
    assert.equal(await second, 'v2');
    assert.equal(await joined, 'v2');
    assert.equal(loads, 1, 'the joiner’s own load was an L2 hit');
    assert.equal(cache.stats().sharedLoadsRetried, 1);
  });

  it('callers that join a load whose lease held share its value: one loader run', async () => {
    const cache = client();
    const k = key('joined-ok');
    let loads = 0;
    const gate = deferred();
    const loader = async (): Promise<number> => {
      loads++;
      await gate.promise;
      return 42;
    };
    const calls = [cache.getOrSet(k, loader), cache.getOrSet(k, loader), cache.getOrSet(k, loader)];
    await eventually('the first load to start', () => loads === 1);
    gate.resolve();
    assert.deepEqual(await Promise.all(calls), [42, 42, 42]);
    assert.equal(loads, 1);
    assert.equal(cache.stats().sharedLoadsRetried, 0);
  });

  it('invalidateTags takes the members atomically and revokes their leases', async () => {
    const cache = client();
    const k1 = key('tag');
    const k2 = key('tag');
    await cache.set(k1, 1, { tags: ['t-inv'] });
    const goOn = deferred();
    const loading = deferred();
    const pending = cache.getOrSet(
      k2,
      async () => {
        loading.resolve();
        await goOn.promise;
        return 2;
      },
      { tags: ['t-inv'] },
    );
    await loading.promise;
    assert.equal(await cache.invalidateTags(['t-inv']), 2, 'k1 and the key being loaded (tagged before its loader ran)');
    goOn.resolve();
    assert.equal(await pending, 2);
    assert.equal(await probe.exists(k1, k2), 0);
    assert.equal(await probe.exists(tagSetKey('t-inv')), 0);
    assert.equal(cache.stats().fillsRefused, 1);
  });

  it('set() leaves no orphan when a whole tag invalidation runs between its tagging and its write', async () => {
    const cache = client();
    const other = client();
    const k = key('set-orphan');
    // The race, made deterministic: another process invalidates the tag after set() tagged
    // the key and before its SET reaches Redis.
    const l2 = (cache as unknown as { l2: { set: (...a: unknown[]) => Promise<unknown> } }).l2;
    const write = l2.set.bind(l2);
    l2.set = async (...args: unknown[]) => {
      await other.invalidateTags(['t-orphan']);
      return write(...args);
    };
    await cache.set(k, 1, { tags: ['t-orphan'] });
    l2.set = write;
    assert.equal(await probe.sismember(tagSetKey('t-orphan'), k), 1, 'the written value is still reachable through its tag');
    await other.invalidateTags(['t-orphan']);
    assert.equal(await probe.exists(k), 0, 'the next invalidation of the tag removes it');
  });

  it('a concurrent miss in another process waits for the lease holder instead of loading', async () => {
    const a = client();
    const b = client({ leaseWaitMs: 10_000 });
    const k = key('wait');
    const goOn = deferred();
    const loading = deferred();
    let bLoads = 0;
    const first = a.getOrSet(k, async () => {
      loading.resolve();
      await goOn.promise;
      return 'from-a';
    });
    await loading.promise;
    const second = b.getOrSet(k, async () => `from-b-${++bLoads}`);
    await eventually('b to wait', () => b.stats().leaseWaits === 1);
    goOn.resolve();
    assert.equal(await first, 'from-a');
    assert.equal(await second, 'from-a');
    assert.equal(bLoads, 0);
  });

  it('a waiter past leaseWaitMs loads itself and does not fill', async () => {
    const a = client();
    const b = client({ leaseWaitMs: 30 });
    const k = key('waitout');
    const goOn = deferred();
    const loading = deferred();
    const first = a.getOrSet(k, async () => {
      loading.resolve();
      await goOn.promise;
      return 'from-a';
    });
    await loading.promise;
    assert.equal(await b.getOrSet(k, async () => 'from-b'), 'from-b');
    assert.equal(b.stats().leaseWaitTimeouts, 1);
    assert.ok(isLeaseMarker((await probe.get(k)) ?? ''), 'k still holds a’s lease: the waiter did not fill');
    goOn.resolve();
    assert.equal(await first, 'from-a');
    assert.deepEqual(await b.get(k), 'from-a');
  });

  it('a waiter takes the lease over when the holder’s loader fails, and fills', async () => {
    const a = client();
    const b = client({ leaseWaitMs: 10_000 });
    const k = key('takeover');
    const loading = deferred();
    const fail = deferred();
    const first = a.getOrSet(k, async () => {
      loading.resolve();
      await fail.promise;
      throw new Error('a failed');
    });
    await loading.promise;
    const second = b.getOrSet(k, async () => 'from-b');
    await eventually('b to wait', () => b.stats().leaseWaits === 1);
    fail.resolve();
    await assert.rejects(first, /a failed/);
    assert.equal(await second, 'from-b');
    assert.equal(b.stats().fills, 1, 'b took the released lease and filled');
    assert.equal(b.stats().leaseWaitTimeouts, 0);
  });

  it('runs one loader per key per process (singleflight)', async () => {
    const cache = client();
    const k = key('sf');
    let calls = 0;
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet(k, async () => ++calls)));
    assert.deepEqual(new Set(results), new Set([1]));
    assert.equal(calls, 1);
  });

  it('a loader that throws: the error reaches the caller, nothing is cached, the lease is released', async () => {
    const cache = client();
    const k = key('throw');
    await assert.rejects(cache.getOrSet(k, async () => Promise.reject(new Error('db down'))), /db down/);
    assert.equal(await probe.exists(k), 0, 'no value and no lease marker left');
    assert.equal(await cache.getOrSet(k, async () => 'ok'), 'ok', 'the next caller can take the lease at once');
  });

  it('a loader that times out: LoaderTimeoutError, nothing cached, lease released, loader aborted', async () => {
    const cache = client();
    const k = key('slow');
    let aborted = false;
    await assert.rejects(
      cache.getOrSet(
        k,
        ({ signal }) =>
          new Promise<string>((resolve) => {
            signal.addEventListener('abort', () => (aborted = true));
            setTimeout(() => resolve('late'), 500);
          }),
        { timeoutMs: 20 },
      ),
      LoaderTimeoutError,
    );
    assert.ok(aborted);
    assert.equal(await probe.exists(k), 0, 'no value and no lease marker left');
    assert.equal(cache.stats().loaderTimeouts, 1);
  });

  it('a value that cannot be serialized: CacheSerializationError, nothing cached (set and getOrSet)', async () => {
    const cache = client();
    const k = key('ser');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(cache.set(k, circular), CacheSerializationError);
    await assert.rejects(cache.set(k, 10n), CacheSerializationError);
    await assert.rejects(cache.getOrSet(k, async () => circular, { tags: ['t-ser'] }), CacheSerializationError);
    assert.equal(await probe.exists(k), 0, 'no value and no lease marker left');
  });

  it('a value key (which also holds leases) or tag set of the wrong Redis type: CacheWrongTypeError', async () => {
    const cache = client({ leaseWaitMs: 1000 });
    const k1 = key('wt');
    await probe.hset(k1, 'x', '1');
    await assert.rejects(cache.getOrSet(k1, async () => 1), CacheWrongTypeError);
    const k2 = key('wt');
    await probe.set(tagSetKey('t-wrong'), 'not a set');
    await assert.rejects(cache.getOrSet(k2, async () => 1, { tags: ['t-wrong'] }), CacheWrongTypeError);
    assert.equal(await probe.exists(k2), 0, 'lease released after the failure');
    await assert.rejects(cache.invalidateTags(['t-wrong']), CacheWrongTypeError);
    const k3 = key('wt');
    await probe.rpush(k3, 'a');
    await assert.rejects(cache.get(k3), CacheWrongTypeError);
  });

  it('negative caching: a loader’s "not found" is cached for negativeTtlMs and invalidated like any key', async () => {
    const cache = client();
    const k = key('neg');
    let calls = 0;
    const loader = async (): Promise<string | undefined> => {
      calls++;
      return undefined;
    };
    assert.equal(await cache.getOrSet(k, loader, { negativeTtlMs: 10_000, tags: ['t-neg'] }), undefined);
    assert.equal(await cache.getOrSet(k, loader, { negativeTtlMs: 10_000, tags: ['t-neg'] }), undefined);
    assert.equal(calls, 1, 'the second read hit the negative entry');
    assert.equal(await cache.get(k), undefined);
    await new FakeWorker(probe, 'unused').invalidate({ tags: ['t-neg'] }, false);
    assert.equal(await cache.getOrSet(k, loader, { negativeTtlMs: 10_000 }), undefined);
    assert.equal(calls, 2, 'the invalidation removed the negative entry');

    const k2 = key('neg-off');
    await cache.getOrSet(k2, loader);
    await cache.getOrSet(k2, loader);
    assert.equal(calls, 4, 'without negativeTtlMs "not found" is not cached');
    assert.equal(await probe.exists(k2), 0);
  });

  it('TTL jitter spreads expiries within [ttl, ttl × (1 + jitter)]', async () => {
    const cache = client();
    const ttls = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const k = key('jit');
      await cache.getOrSet(k, async () => i, { ttlMs: 100_000, jitter: 0.5 });
      const pttl = await probe.pttl(k);
      assert.ok(pttl > 99_000 && pttl <= 150_000, `pttl ${pttl}`);
      ttls.add(Math.round(pttl / 1000));
    }
    assert.ok(ttls.size > 3, `expiries spread: ${[...ttls].join(',')}`);
  });

  it('grace serves an L1 copy that expired by TTL (refreshing it), never one an invalidation removed', async () => {
    const channel = `grace-${++n}`;
    const worker = new FakeWorker(probe, channel);
    const cache = client({ l1: {}, subscriber: { channels: [channel], silenceMs: 0 } });
    await cache.connect();
    const k = key('grace');
    let version = 1;
    const loader = async (): Promise<number> => version;
    const opts = { ttlMs: 50, graceMs: 60_000, tags: ['t-grace'] };
    assert.equal(await cache.getOrSet(k, loader, opts), 1);
    await new Promise((r) => setTimeout(r, 80)); // expired by TTL in L1 and L2
    version = 2;
    assert.equal(await cache.getOrSet(k, loader, opts), 1, 'stale copy served at once');
    await eventually('background refresh', async () => (await cache.getOrSet(k, loader, { ...opts, ttlMs: 60_000 })) === 2);
    assert.ok(cache.stats().graceServed >= 1);

    // now an invalidation: the L1 copy is gone, grace cannot bring it back
    await new Promise((r) => setTimeout(r, 80));
    version = 3;
    await worker.invalidate({ tags: ['t-grace'] });
    await eventually('the message', () => cache.stats().messages.applied >= 1);
    assert.equal(await cache.getOrSet(k, loader, opts), 3);

    // a loader failure with an invalidated copy: the error, not the old value
    await new Promise((r) => setTimeout(r, 80));
    await worker.invalidate({ keys: [k] });
    await eventually('the second message', () => cache.stats().messages.applied >= 2);
    await assert.rejects(cache.getOrSet(k, async () => Promise.reject(new Error('db down')), opts), /db down/);
  });

  it('registers prom-client metrics in the app’s registry', async () => {
    const registry = new Registry();
    const cache = client({ registry, name: 'm', l1: {}, l1Unsafe: true });
    const k = key('metrics');
    await cache.getOrSet(k, async () => 1);
    await cache.getOrSet(k, async () => 1);
    const text = await registry.metrics();
    assert.match(text, /cdc_cache_hits_total\{cache="m",layer="l1"\} 1/);
    assert.match(text, /cdc_cache_misses_total\{cache="m",layer="l2"\} 1/);
    assert.match(text, /cdc_cache_fills_total\{cache="m",outcome="stored"\} 1/);
    assert.match(text, /cdc_cache_l1_flushes_total\{cache="m",reason="gap"\} 0/);
    // a second client in the same registry
    client({ registry, name: 'm2' });
    assert.match(await registry.metrics(), /cdc_cache_hits_total\{cache="m2",layer="l1"\} 0/);
  });
});
