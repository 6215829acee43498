/**
 * One application process of the consistency audit (forked by audit.ts): reads random
 * entries through one cache (the library, plain cache-aside, or bentocache), loads misses
 * from Postgres with a loader that sometimes pauses between its SELECT and the fill (the
 * stale-set race), and reports every read (what it returned and when it started) to the
 * driver. Each process has its own L1.
 */
import type { Cluster, Redis } from 'ioredis';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'pg';
import { CacheClient } from '@cdc/cache-client';
import { parseL1Message, tagSetKey } from '@cdc/protocol';
import { connect } from './audit-redis';
import { parseLsn } from '@cdc/source-postgres';
import { CHANNEL, Cached, FromReader, Heard, KeySpec, Mode, PREFIX, ReadRecord, ToReader, nowMs, selectFor, tagsOf, targetsOf, toCached } from './audit-workload';

type Loader = () => Promise<Cached>;

/** The three caches behind one interface. */
interface AuditCache {
  read(spec: KeySpec, loader: Loader): Promise<Cached | undefined>;
  /** The entry in this process's L1; undefined when the cache offers no way to look (bentocache). */
  peekL1(spec: KeySpec): Cached | null | undefined;
  /** What a plain read returns now (no loader). */
  get(spec: KeySpec): Promise<Cached | null>;
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

const TTL_MS = 60_000;

async function libraryCache(redis: Redis | Cluster, heard: (h: Heard) => void): Promise<AuditCache> {
  const client = new CacheClient({ redis, keyPrefix: PREFIX.library, subscriber: { channels: [CHANNEL] }, defaultTtlMs: TTL_MS, l1: { maxTtlMs: TTL_MS } });
  // Test-only: when this process's subscriber evicted what each message names, to tell a late delivery apart from a cache that ignored it.
  const apply = client.applyInvalidation.bind(client);
  client.applyInvalidation = (m) => {
    apply(m);
    const position = (m as { position?: string }).position;
    if (position) heard({ targets: targetsOf(m), lsn: Number(parseLsn(position)), t: nowMs() });
  };
  await client.connect();
  // Test-only look inside: the audit must see the L1 itself, not only what reads return.
  const l1 = (client as unknown as { l1: { peek(key: string): { value: unknown } | undefined } }).l1;
  return {
    read: (spec, loader) => client.getOrSet<Cached>(spec, loader, { ttlMs: TTL_MS, tags: tagsOf(spec) }),
    peekL1: (spec) => (l1.peek(client.fullKey(spec))?.value as Cached | undefined) ?? null,
    get: async (spec) => (await client.get<Cached>(spec)) ?? null,
    stats: () => ({ ...client.stats() }),
    close: () => client.close(),
  };
}

/** What the docs used to tell teams to write: GET; on a miss SELECT, SET, SADD. No lease. */
function cacheAside(redis: Redis | Cluster): AuditCache {
  const full = (spec: KeySpec) => PREFIX['cache-aside'] + spec;
  const get = async (spec: KeySpec): Promise<Cached | null> => {
    const raw = await redis.get(full(spec));
    return raw === null ? null : (JSON.parse(raw) as Cached);
  };
  return {
    async read(spec, loader) {
      const hit = await get(spec);
      if (hit) return hit;
      const value = await loader();
      await redis.set(full(spec), JSON.stringify(value), 'PX', TTL_MS);
      for (const tag of tagsOf(spec)) await redis.sadd(tagSetKey(tag), full(spec));
      return value;
    },
    peekL1: () => null,
    get,
    stats: () => ({}),
    close: async () => undefined,
  };
}

interface BentoLike {
  getOrSet(o: { key: string; factory: () => Promise<unknown>; ttl: number }): Promise<unknown>;
  get(o: { key: string }): Promise<unknown>;
  deleteMany(o: { keys: string[] }): Promise<unknown>;
  disconnectAll(): Promise<void>;
}

/**
 * bentocache 1.x from the registry, as a team would wire it to this worker: memory L1 over
 * Redis L2 under the same keys the rules name, tag sets registered by the factory, and the
 * worker's L1 messages evicting from bentocache (its own bus knows nothing of the worker).
 */
async function bentoCache(redis: Redis | Cluster): Promise<AuditCache> {
  // bentocache is ESM-only; Node 20's require(esm) loads it.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { BentoCache, bentostore } = require('bentocache');
  const { memoryDriver } = require('bentocache/drivers/memory');
  const { redisDriver } = require('bentocache/drivers/redis');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const prefix = PREFIX.bentocache.replace(/:$/, '');
  const bento: BentoLike = new BentoCache({
    default: 'audit',
    stores: { audit: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })).useL2Layer(redisDriver({ connection: redis, prefix })) },
  });
  const byTag = new Map<string, Set<KeySpec>>();
  const sub = redis.duplicate();
  sub.on('error', () => undefined);
  await sub.subscribe(CHANNEL);
  sub.on('message', (_channel: string, text: string) => {
    const parsed = parseL1Message(text);
    if (parsed.kind !== 'v1' && parsed.kind !== 'v2') return;
    const m = parsed.message;
    if (m.v === 2 && m.type === 'heartbeat') return;
    const keys = new Set<string>();
    for (const k of m.keys) if (k.startsWith(PREFIX.bentocache)) keys.add(k.slice(PREFIX.bentocache.length));
    for (const t of m.tags) for (const spec of byTag.get(t) ?? []) keys.add(spec);
    if (keys.size > 0) void bento.deleteMany({ keys: [...keys] }).catch(() => undefined);
  });
  const unwrap = (v: unknown): Cached | null => (v === undefined || v === null ? null : (v as Cached));
  return {
    async read(spec, loader) {
      const tags = tagsOf(spec);
      for (const t of tags) {
        let s = byTag.get(t);
        if (!s) byTag.set(t, (s = new Set()));
        s.add(spec);
      }
      const value = await bento.getOrSet({
        key: spec,
        ttl: TTL_MS,
        factory: async () => {
          const v = await loader();
          for (const t of tags) await redis.sadd(tagSetKey(t), PREFIX.bentocache + spec);
          return v;
        },
      });
      return unwrap(value) ?? undefined;
    },
    peekL1: () => undefined,
    get: async (spec) => unwrap(await bento.get({ key: spec })),
    stats: () => ({}),
    close: async () => {
      sub.disconnect();
      await bento.disconnectAll().catch(() => undefined);
    },
  };
}

function send(m: FromReader): void {
  if (process.connected) process.send?.(m); // the driver may be gone (it failed): then just exit quietly
}
process.on('disconnect', () => process.exit(0));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(config: Extract<ToReader, { type: 'config' }>): Promise<void> {
  const redis = connect(config.redis, { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const pool = new Pool({ connectionString: config.databaseUrl, max: config.concurrency + 2 });
  pool.on('error', () => undefined);
  let heard: Heard[] = [];
  const cache = config.mode === 'library' ? await libraryCache(redis, (h) => heard.push(h)) : config.mode === 'cache-aside' ? cacheAside(redis) : await bentoCache(redis);

  const probes = new Map<KeySpec, () => void>();
  const loader =
    (spec: KeySpec, probe: boolean): Loader =>
    async () => {
      const { sql, params } = selectFor(spec);
      const { rows } = await pool.query<{ id: number; version: number }>(sql, params);
      if (probe) {
        // Deterministic race: the driver commits a change and waits for its invalidation now.
        const resumed = new Promise<void>((resolve) => probes.set(spec, resolve));
        send({ type: 'probe-selected', spec });
        await resumed;
      } else if (Math.random() < config.pauseProbability) {
        await sleep(Math.random() * config.pauseMaxMs);
      }
      return toCached(rows);
    };

  // How late this process's callbacks ran (a message is applied no earlier than its callback runs).
  const LOOP_RESOLUTION_MS = 5;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  let running = false;
  let reads: ReadRecord[] = [];
  let errors = 0;
  const flush = setInterval(() => {
    if (reads.length === 0 && errors === 0 && heard.length === 0) return;
    send({ type: 'reads', reads, errors, heard });
    reads = [];
    heard = [];
    errors = 0;
  }, 200);

  const loop = async (): Promise<void> => {
    while (running) {
      const spec = config.specs[Math.floor(Math.random() * config.specs.length)];
      const t = nowMs();
      try {
        const v = await cache.read(spec, loader(spec, false));
        if (v) reads.push({ spec, t, end: nowMs(), rows: v.rows });
      } catch {
        errors++;
        await sleep(20);
      }
      await sleep(1); // a request rate, not a spin: the machine is shared
    }
  };
  let loops: Promise<void>[] = [];

  process.on('message', (m: ToReader) => {
    void (async () => {
      if (m.type === 'run') {
        running = true;
        loopDelay.enable();
        loops = Array.from({ length: config.concurrency }, loop);
      } else if (m.type === 'stop') {
        running = false;
        await Promise.all(loops);
        clearInterval(flush);
        send({ type: 'reads', reads, errors, heard });
        reads = [];
        heard = [];
        loopDelay.disable();
        // The histogram holds whole sampling intervals: the delay is what exceeds the resolution.
        const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
        const eventLoopDelayMs = { p50: late(loopDelay.percentile(50)), p99: late(loopDelay.percentile(99)), max: late(loopDelay.max) };
        send({ type: 'stopped', stats: { ...cache.stats(), eventLoopDelayMs } });
      } else if (m.type === 'probe') {
        try {
          await cache.read(m.spec, loader(m.spec, true));
          send({ type: 'probe-done', spec: m.spec });
        } catch (err) {
          send({ type: 'probe-done', spec: m.spec, error: String(err) });
        }
      } else if (m.type === 'resume') {
        probes.get(m.spec)?.();
        probes.delete(m.spec);
      } else if (m.type === 'dump') {
        const l1: Record<KeySpec, Cached | null> = {};
        const read: Record<KeySpec, Cached | null> = {};
        for (const spec of m.specs) {
          const peeked = cache.peekL1(spec);
          if (peeked !== undefined) l1[spec] = peeked;
          read[spec] = await cache.get(spec).catch(() => null);
        }
        send({ type: 'dump', l1, read });
        await cache.close();
        redis.disconnect();
        await pool.end();
        process.exit(0);
      }
    })();
  });
  send({ type: 'ready' });
}

process.once('message', (m: ToReader) => {
  if (m.type !== 'config') throw new Error('first message must be the config');
  main(m).catch((err) => {
    console.error(err);
    process.exit(1);
  });
});
