import pino from 'pino';
import { CdnPurge, InvalidationBatch } from '@cdc/core';
import { FakeCloudflare, RedisServer } from '@cdc/testing';
import { OutboxStore, cdnConfigFromEnv, createCdnComponents } from '@cdc/sink-cdn';

/** One benchmark result: value against its baseline (ratio = value / baseline). */
export interface CdnBenchRow {
  readonly metric: string;
  readonly value: number;
  readonly baseline: number;
  readonly ratio: number;
}

const TOKEN = 'bench-token';
const ZONE = 'benchbenchbenchbenchbenchbench00';
/** The design's budget for commit → purge request sent (p99, under the rate limit). */
const LATENCY_BUDGET_MS = 250;

/**
 * CDN purge benchmark against a real Redis and the fake Cloudflare answering in 100–300 ms:
 *  1. commit → purge request received by the CDN, p50/p99, for single-change batches at a
 *     steady 40 batches/s (under the 50 req/s plan limit); baseline = the 250 ms budget.
 *  2. requests per change for a burst of 10,000 changes to 100 rows; baseline = naive
 *     (one request per change, 1.0).
 */
export async function runCdnBench(opts: { steadyBatches?: number; burstChanges?: number } = {}): Promise<CdnBenchRow[]> {
  const steadyBatches = opts.steadyBatches ?? 200;
  const burstChanges = opts.burstChanges ?? 10_000;
  const redisServer = await RedisServer.start();
  const redis = redisServer.client();
  const cf = await FakeCloudflare.start({ token: TOKEN, zones: [ZONE], ratePerSec: 50, burst: 500 });
  cf.faults.setLatency(100, 300);
  const rows: CdnBenchRow[] = [];
  try {
    const config = cdnConfigFromEnv({
      CLOUDFLARE_ZONES: `shop=${ZONE}`,
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_API_URL: cf.url,
      CLOUDFLARE_RATE_PER_SEC: '50',
      CLOUDFLARE_BURST: '500',
      CDN_OUTBOX_STREAM: `bench:cdn:${Date.now()}`,
      CDN_COALESCE_MS: '50',
      CDN_REQUEST_CONCURRENCY: '16',
    });
    const { outboxSink, purgeWorker } = createCdnComponents({ config, redis, logger: pino({ level: 'silent' }) });
    const store = new OutboxStore(redis, config.outbox);
    await outboxSink.start();
    await purgeWorker.start();
    try {
      // 1. Steady single-change transactions.
      const committedAt = new Map<string, number>();
      for (let i = 0; i < steadyBatches; i++) {
        const url = `https://shop.example.com/steady/${i}`;
        const commit = Date.now();
        committedAt.set(url, commit);
        await outboxSink.apply(batch([file(url)], commit, i));
        await new Promise((r) => setTimeout(r, 25));
      }
      await drained(store);
      const latencies: number[] = [];
      const firstSeen = new Map<string, number>();
      for (const r of cf.requests) {
        for (const f of ((r.body as { files?: unknown[] })?.files ?? []) as string[]) if (!firstSeen.has(f)) firstSeen.set(f, r.at);
      }
      for (const [url, commit] of committedAt) {
        const seen = firstSeen.get(url);
        if (seen !== undefined) latencies.push(seen - commit);
      }
      latencies.sort((a, b) => a - b);
      rows.push(row('cdn commit→purge request p50 (ms)', pct(latencies, 0.5), LATENCY_BUDGET_MS));
      rows.push(row('cdn commit→purge request p99 (ms)', pct(latencies, 0.99), LATENCY_BUDGET_MS));

      // 2. Burst: many changes to few rows.
      const before = cf.requests.length;
      const urls = Array.from({ length: 100 }, (_, i) => `https://shop.example.com/c${i % 10}/row-${i}`);
      for (let b = 0; b < burstChanges / 20; b++) {
        await outboxSink.apply(batch(Array.from({ length: 20 }, (_, i) => file(urls[(b * 20 + i * 7) % urls.length])), Date.now(), steadyBatches + b));
      }
      await drained(store);
      const requests = cf.requests.length - before;
      rows.push(row('cdn requests per change, burst of 10k changes to 100 rows', requests / burstChanges, 1));
    } finally {
      await purgeWorker.stop();
    }
  } finally {
    redis.disconnect();
    await cf.stop();
    await redisServer.destroy();
  }
  return rows;
}

function file(value: string): CdnPurge {
  return { provider: 'cloudflare', target: 'shop', kind: 'files', value };
}

function batch(purges: CdnPurge[], commitTimeMs: number, n: number): InvalidationBatch {
  const b = new InvalidationBatch();
  b.addEvent({ op: 'update', schema: 'public', table: 'bench', commitTimeMs, position: `0/${n.toString(16)}` });
  b.addMatch({ rule: 'bench', keys: [], tags: [], patterns: [], channels: [], cdn: purges, missing: [] });
  return b;
}

async function drained(store: OutboxStore): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { depth } = await store.backlog();
    if (depth === 0 && (await store.pendingCount()) === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('cdn bench: the outbox did not drain within 120 s');
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function row(metric: string, value: number, baseline: number): CdnBenchRow {
  return { metric, value: Math.round(value * 10_000) / 10_000, baseline, ratio: Math.round((value / baseline) * 10_000) / 10_000 };
}

if (require.main === module) {
  runCdnBench()
    .then((rows) => console.table(rows))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
