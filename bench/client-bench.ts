/**
 * Client part of `npm run bench` (BENCH_PARTS=client): the library's L1 hit, L2 hit and
 * miss-and-fill against raw lru-cache, a raw ioredis GET and bentocache, in one run on one
 * Redis. The L1 is live as in production: a worker-side L1PubSubSink sends heartbeats, so
 * the library's subscriber hears and uses its L1.
 *   BENCH_CLIENT_SECONDS (default 3)  per contender and scenario, in interleaved rounds (after a warm-up);
 *   BENCH_CLIENT_ROUNDS (default 30)  rounds per scenario; a ratio is the median of the per-round
 *   ratios (library / contender in the same round), printed with their spread
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Redis from 'ioredis';
import { LRUCache } from 'lru-cache';
import { CacheClient } from '@cdc/cache-client';
import { L1PubSubSink } from '@cdc/sink-redis';
import { RedisServer } from '@cdc/testing';
import { Row, percentile, progress } from './bench-util';

const KEYS = 1000;
const CHANNEL = 'bench:l1';
const VALUE = { id: 1, title: 'A product title', price: '12.50', tags: ['a', 'b', 'c'], description: 'x'.repeat(200) };

interface Measured {
  readonly opsPerSec: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  /** This process's CPU time per op (user + system): steadier than ops/s on a shared machine. */
  readonly cpuUsPerOp: number;
  /** Every round's ops/s ratio library / this contender (the same round: same machine load); the library's own row has none. */
  readonly roundRatios: readonly number[];
}

interface Round {
  readonly ops: number;
  readonly elapsedS: number;
  readonly cpuUs: number;
  readonly latencies: number[];
}

/**
 * `concurrency` loops each awaiting `op(i)` for `seconds`. Every 16th op is timed, so the
 * clock reads barely touch the throughput of sub-microsecond ops. `latencies` collects the samples.
 */
async function measureOnce(seconds: number, concurrency: number, op: (i: number) => unknown): Promise<Round> {
  const latencies: number[] = [];
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        for (let k = 0; k < 64; k++) {
          if ((k & 15) === 0) {
            const t = performance.now();
            await op(n++);
            latencies.push(performance.now() - t);
          } else await op(n++);
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { ops: n, elapsedS, cpuUs: used.user + used.system, latencies };
}

/**
 * A full GC before each contender's round, so none pays for the garbage the one before it left
 * (bentocache's rounds left enough that the library, measured next, spent a third more CPU per L2 hit).
 */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Rounds per scenario (BENCH_CLIENT_ROUNDS): short ones (100 ms at the defaults), so the load a
 * neighbour puts on the machine changes little between the contenders of one round.
 */
const ROUNDS = Math.max(3, Number(process.env.BENCH_CLIENT_ROUNDS ?? 30));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * The contenders of one scenario in ROUNDS interleaved rounds with the same concurrency and keys
 * (the machine is shared: a neighbour's burst hurts the contenders of one round alike), the order
 * rotated each round so none is always first after the GC. Each contender is warmed up first
 * (JIT, connection, caches). ops/s and CPU per op are over all rounds; the ratio that counts is
 * the median of the per-round ratios (library / contender), with the spread kept.
 */
async function compare<K extends string>(seconds: number, concurrency: number, ops: Record<K, (i: number) => unknown>): Promise<Record<K, Measured>> {
  const names = Object.keys(ops) as K[];
  for (const name of names) await measureOnce(Math.min(0.3, seconds / ROUNDS), concurrency, ops[name]);
  const rounds = {} as Record<K, Round[]>;
  for (const name of names) rounds[name] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length];
      collectGarbage();
      rounds[name].push(await measureOnce(seconds / ROUNDS, concurrency, ops[name]));
    }
  }
  const rate = (r: Round) => r.ops / r.elapsedS;
  const [lib] = names;
  const out = {} as Record<K, Measured>;
  for (const name of names) {
    const rs = rounds[name];
    const latencies = rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const total = rs.reduce((a, r) => a + r.ops, 0);
    out[name] = {
      opsPerSec: total / rs.reduce((a, r) => a + r.elapsedS, 0),
      p50Us: percentile(latencies, 50) * 1000,
      p90Us: percentile(latencies, 90) * 1000,
      p99Us: percentile(latencies, 99) * 1000,
      cpuUsPerOp: rs.reduce((a, r) => a + r.cpuUs, 0) / total,
      roundRatios: name === lib ? [] : rs.map((r, i) => rate(rounds[lib][i]) / rate(r)),
    };
  }
  return out;
}

interface BentoLike {
  get(o: { key: string }): Promise<unknown>;
  set(o: { key: string; value: unknown; ttl?: number }): Promise<unknown>;
  getOrSet(o: { key: string; factory: () => unknown; ttl?: number }): Promise<unknown>;
  disconnectAll(): Promise<void>;
}

function bentocache(redis: Redis, l1: boolean): BentoLike {
  // ESM-only package; Node 20's require(esm) loads it.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { BentoCache, bentostore } = require('bentocache');
  const { memoryDriver } = require('bentocache/drivers/memory');
  const { redisDriver } = require('bentocache/drivers/redis');
  /* eslint-enable @typescript-eslint/no-require-imports */
  let store = bentostore();
  if (l1) store = store.useL1Layer(memoryDriver({ maxItems: 10_000 }));
  store = store.useL2Layer(redisDriver({ connection: redis, prefix: l1 ? 'bento1' : 'bento2' }));
  return new BentoCache({ default: 's', stores: { s: store } });
}

export async function runClientBench(): Promise<Row[]> {
  const seconds = Number(process.env.BENCH_CLIENT_SECONDS ?? 3);
  progress('client: L1 hit, L2 hit, miss-and-fill: library vs raw lru-cache / ioredis GET / bentocache');
  const server = await RedisServer.start();
  const redis = new Redis(server.url);
  const publisher = new Redis(server.url);
  const heartbeats = new L1PubSubSink({ client: publisher, source: 'bench', channels: () => [CHANNEL], heartbeatIntervalMs: 200 });
  const lib = new CacheClient({ redis, subscriber: { channels: [CHANNEL] }, keyPrefix: 'lib:', defaultTtlMs: 600_000, l1: { maxTtlMs: 600_000 } });
  const libL2 = new CacheClient({ redis, keyPrefix: 'lib:', defaultTtlMs: 600_000, l1: false });
  const bento1 = bentocache(redis, true);
  const bento2 = bentocache(redis, false);
  const lru = new LRUCache<string, object>({ max: 10_000 });
  const rows: Row[] = [];
  try {
    await heartbeats.start();
    await lib.connect();
    const key = (i: number) => `k:${i % KEYS}`;
    for (let i = 0; i < KEYS; i++) {
      await lib.set(key(i), VALUE);
      await redis.set(`raw:${key(i)}`, JSON.stringify(VALUE));
      await bento1.set({ key: key(i), value: VALUE, ttl: 600_000 });
      await bento2.set({ key: key(i), value: VALUE, ttl: 600_000 });
      // One object per key, as the library's L1 holds (a shared object would stay in the CPU cache and flatter the baseline).
      lru.set(key(i), JSON.parse(JSON.stringify(VALUE)));
    }
    // The library's L1 serves only while its subscriber hears the worker (heartbeats).
    for (let t = 0; lib.l1Bypassed && t < 100; t++) await new Promise((r) => setTimeout(r, 50));
    if (lib.l1Bypassed) throw new Error('the library never heard a heartbeat: its L1 stays bypassed');
    for (let i = 0; i < KEYS; i++) await lib.get(key(i)); // L1 warm (set fills L1 too; this makes sure)

    const hitsBefore = lib.stats().hits.l1;
    const l1 = await compare(seconds, 1, {
      lib: (i) => lib.get(key(i)),
      raw: (i) => lru.get(key(i)),
      bento: (i) => bento1.get({ key: key(i) }),
    });
    if (lib.stats().hits.l1 - hitsBefore < 0.3 * l1.lib.opsPerSec * seconds) throw new Error('the L1 measurement did not hit L1');
    const l2 = await compare(seconds, 16, {
      lib: (i) => libL2.get(key(i)),
      raw: async (i) => JSON.parse((await redis.get(`raw:${key(i)}`))!),
      bento: (i) => bento2.get({ key: key(i) }),
    });
    let fresh = 0;
    const fill = await compare(seconds, 16, {
      lib: () => lib.getOrSet(`miss:lib:${fresh++}`, () => VALUE, { ttlMs: 60_000 }),
      raw: async () => {
        const k = `miss:raw:${fresh++}`;
        if ((await redis.get(k)) === null) await redis.set(k, JSON.stringify(VALUE), 'PX', 60_000);
      },
      bento: () => bento1.getOrSet({ key: `miss:bento:${fresh++}`, factory: () => VALUE, ttl: 60_000 }),
    });

    const ops = (m: Measured) => m.opsPerSec.toFixed(0);
    const lat = (m: Measured) => `${m.p50Us.toFixed(1)} / ${m.p90Us.toFixed(1)} / ${m.p99Us.toFixed(1)} µs`;
    const ratio = (m: Measured) => median(m.roundRatios).toFixed(2);
    const q = (m: Measured, p: number) => percentile([...m.roundRatios].sort((a, b) => a - b), p).toFixed(2);
    const spread = (m: Measured) => `${q(m, 0)} / ${q(m, 25)} / ${q(m, 75)} / ${q(m, 100)}`;
    const scenario = (name: string, raw: string, m: { lib: Measured; raw: Measured; bento: Measured }, rawTarget: string) => {
      rows.push({ scenario: name, metric: `ops/s vs ${raw} (median round ratio)`, value: ops(m.lib), baseline: ops(m.raw), ratio: ratio(m.raw), target: rawTarget });
      rows.push({ scenario: '', metric: `  ${ROUNDS} rounds' ratios: min / p25 / p75 / max`, value: '', baseline: '', ratio: spread(m.raw), target: '' });
      rows.push({ scenario: '', metric: 'ops/s vs bentocache (median round ratio)', value: ops(m.lib), baseline: ops(m.bento), ratio: ratio(m.bento), target: rawTarget ? '≥ 0.83 (within 1.2×)' : '' });
      rows.push({ scenario: '', metric: `  ${ROUNDS} rounds' ratios: min / p25 / p75 / max`, value: '', baseline: '', ratio: spread(m.bento), target: '' });
      const cpu = (x: Measured) => `${x.cpuUsPerOp.toFixed(2)} µs`;
      rows.push({ scenario: '', metric: `CPU per op (${raw}; ratio = baseline / library)`, value: cpu(m.lib), baseline: cpu(m.raw), ratio: (m.raw.cpuUsPerOp / m.lib.cpuUsPerOp).toFixed(2), target: '' });
      rows.push({ scenario: '', metric: 'CPU per op (bentocache)', value: cpu(m.lib), baseline: cpu(m.bento), ratio: (m.bento.cpuUsPerOp / m.lib.cpuUsPerOp).toFixed(2), target: '' });
      rows.push({ scenario: '', metric: `p50 / p90 / p99 (${raw})`, value: lat(m.lib), baseline: lat(m.raw), ratio: '', target: '' });
      rows.push({ scenario: '', metric: 'p50 / p90 / p99 (bentocache)', value: lat(m.lib), baseline: lat(m.bento), ratio: '', target: '' });
    };
    scenario('client L1 hit (1 in flight)', 'raw lru-cache', l1, '≥ 0.8');
    scenario('client L2 hit (16 in flight)', 'raw ioredis GET + JSON.parse', l2, '≥ 0.9');
    scenario('client miss + fill (16 in flight)', 'raw GET + SET (no lease)', fill, '');
  } finally {
    await lib.close();
    await libL2.close();
    await heartbeats.stop();
    await bento1.disconnectAll().catch(() => undefined);
    await bento2.disconnectAll().catch(() => undefined);
    redis.disconnect();
    publisher.disconnect();
    await server.destroy();
  }
  return rows;
}
