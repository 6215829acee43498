import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { ChangeSource } from '@cdc/core';
import { InvalidationPipeline } from '@cdc/pipeline';
import { compileRules } from '@cdc/rules';
import { L1PubSubSink, RedisInvalidationSink } from '@cdc/sink-redis';
import { PostgresSource } from '@cdc/source-postgres';
import { PostgresServer, RedisServer } from '@cdc/testing';
import { drainBare, liveBare } from './bare-decoder';
import { PeakRss, percentile, progress } from './bench-util';

export const BENCH_RULES = `
version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}", "product:slug:{before.slug}", "product:slug:{after.slug}"]
      tags: ["category-{after.category_id}"]
      channels: ["l1:products"]
`;

export interface DrainResult {
  rows: number;
  transactions: number;
  bare: { seconds: number; rss: number };
  worker: { seconds: number; rss: number };
}

/** The products table (REPLICA IDENTITY FULL) with `rows` rows, a publication, and a procedure committing one update per loop. */
export async function setupSchema(pg: PostgresServer, rows: number): Promise<void> {
  await pg.query(schemaSql(rows));
}

export function schemaSql(rows: number): string {
  return `
    CREATE TABLE products (id int PRIMARY KEY, slug text NOT NULL, title text NOT NULL, price numeric(10,2) NOT NULL, category_id int);
    ALTER TABLE products REPLICA IDENTITY FULL;
    INSERT INTO products SELECT g, 'p-' || g, 'Product ' || g, 10, g % 50 FROM generate_series(1, ${rows}) g;
    CREATE PUBLICATION bench FOR TABLE products;
    CREATE PROCEDURE bench_updates(n int) LANGUAGE plpgsql AS $$
    BEGIN
      FOR i IN 1..n LOOP
        UPDATE products SET price = price + 1 WHERE id = 1 + (i % ${rows});
        COMMIT;
      END LOOP;
    END $$;
  `;
}

/** The worker under test: a source through BENCH_RULES into Redis L2 and L1 pub/sub, as `run` composes it. */
export function benchPipeline(source: ChangeSource, client: Redis): InvalidationPipeline {
  const rules = compileRules(BENCH_RULES, 'bench-rules.yaml');
  return new InvalidationPipeline(
    source,
    { current: () => rules },
    [new RedisInvalidationSink({ client }), new L1PubSubSink({ client, source: source.name })],
    undefined,
    { maxBatchEvents: 5000 },
  );
}

function workerPipeline(pg: PostgresServer, redis: RedisServer, slot: string) {
  const client = redis.client();
  const source = new PostgresSource({
    connectionString: pg.url,
    slotName: slot,
    publicationName: 'bench',
    createSlot: false,
    createPublication: false,
  });
  return { pipeline: benchPipeline(source, client), client };
}

/**
 * Backlog drain: single-row transactions plus one bulk transaction are written while
 * nothing consumes; then the bare decoder drains its slot, and the worker drains an
 * identical slot created at the same WAL position. Same WAL, same machine, same run.
 */
export async function benchDrain(pg: PostgresServer, redis: RedisServer, transactions: number, bulkRows: number): Promise<DrainResult> {
  await pg.query(`SELECT pg_create_logical_replication_slot('bench_bare', 'pgoutput')`);
  await pg.query(`SELECT pg_create_logical_replication_slot('bench_worker', 'pgoutput')`);
  await pg.query(`SELECT pg_create_logical_replication_slot('bench_bare2', 'pgoutput')`);
  progress(`drain: writing ${transactions} single-row transactions and one ${bulkRows}-row transaction`);
  await pg.query(`CALL bench_updates(${transactions})`);
  await pg.query(`UPDATE products SET price = price + 1 WHERE id <= ${bulkRows}`);
  const expectedRows = transactions + bulkRows;

  // The baseline runs before and after the worker (caches warm up during the first run);
  // the faster of the two is reported, which keeps the ratio conservative.
  progress('drain: bare decoder (1/2)');
  const rssBare = new PeakRss();
  const bare1 = await drainBare(pg.url, 'bench_bare', 'bench', expectedRows);
  const bareRss = rssBare.stop();

  progress('drain: worker (rules → Redis UNLINK → L1 pub/sub → ack)');
  const { pipeline, client } = workerPipeline(pg, redis, 'bench_worker');
  const rssWorker = new PeakRss();
  let events = 0;
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  const done = new Promise<void>((resolve) => {
    pipeline.onApplied(({ batch }) => {
      events += batch.eventCount;
      if (events >= expectedRows) {
        t1 = process.hrtime.bigint();
        resolve();
      }
    });
  });
  await pipeline.start();
  await done;
  const workerRss = rssWorker.stop();
  await pipeline.stop();
  client.disconnect();
  progress('drain: bare decoder (2/2)');
  const bare2 = await drainBare(pg.url, 'bench_bare2', 'bench', expectedRows);
  const bare = bare1.seconds < bare2.seconds ? bare1 : bare2;
  return {
    rows: expectedRows,
    transactions: transactions + 1,
    bare: { seconds: bare.seconds, rss: bareRss },
    worker: { seconds: Number(t1 - t0) / 1e9, rss: workerRss },
  };
}

export interface Percentiles {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LatencyResult extends Percentiles {
  rate: number;
  achievedRate: number;
  rss: number;
  /** The bare decoder at the same rate: commit timestamp → COMMIT decoded, no sinks. */
  bare: Percentiles;
}

export function percentiles(values: number[]): Percentiles {
  values.sort((a, b) => a - b);
  return {
    samples: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values[values.length - 1] ?? 0,
  };
}

/** Runs the fixed-rate writer in its own process; resolves with the rate it achieved. */
export async function writeAtRate(pg: PostgresServer, rate: number, seconds: number): Promise<number> {
  const writer = spawn(process.execPath, [join(__dirname, 'rate-writer.js'), pg.url, String(rate), String(seconds), '1000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  writer.stdout.on('data', (d) => (out += d));
  await new Promise((r) => writer.on('exit', r));
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { rate?: number }).rate ?? 0;
}

/**
 * Live latency: a writer process commits single-row transactions at a fixed rate; commit
 * timestamp → Redis acknowledged. The baseline is the bare decoder at the same rate
 * (commit timestamp → COMMIT decoded), measured just before on the same server.
 */
export async function benchLatency(pg: PostgresServer, redis: RedisServer, rate: number, seconds: number): Promise<LatencyResult> {
  progress(`latency baseline: bare decoder at ${rate} tx/s for ${seconds} s`);
  await pg.query(`SELECT pg_create_logical_replication_slot('bench_live_bare', 'pgoutput')`);
  const bare = await liveBare(pg.url, 'bench_live_bare', 'bench');
  await new Promise((r) => setTimeout(r, 300));
  await writeAtRate(pg, rate, seconds);
  await new Promise((r) => setTimeout(r, 500));
  await bare.stop();
  await pg.query(`SELECT pg_drop_replication_slot('bench_live_bare')`);

  await pg.query(`SELECT pg_create_logical_replication_slot('bench_live', 'pgoutput')`);
  const { pipeline, client } = workerPipeline(pg, redis, 'bench_live');
  const latencies: number[] = [];
  pipeline.onApplied(({ batch, redisAppliedAtMs }) => {
    for (const t of batch.commitTimesMs) latencies.push(redisAppliedAtMs - t);
  });
  await pipeline.start();
  const rss = new PeakRss();
  progress(`latency: worker at ${rate} tx/s for ${seconds} s`);
  const achievedRate = await writeAtRate(pg, rate, seconds);
  await new Promise((r) => setTimeout(r, 500));
  const peak = rss.stop();
  await pipeline.stop();
  client.disconnect();
  return { rate, achievedRate, rss: peak, ...percentiles(latencies), bare: percentiles(bare.latenciesMs) };
}
