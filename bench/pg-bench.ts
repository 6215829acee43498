import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { ChangeSource } from '@cdc/core';
import { InvalidationPipeline } from '@cdc/pipeline';
import { columnDemand, compileRules } from '@cdc/rules';
import { L1PubSubSink, RedisInvalidationSink } from '@cdc/sink-redis';
import { PostgresSource } from '@cdc/source-postgres';
import { PgoutputDecoder } from '@cdc/source-postgres/pgoutput-decoder';
import { PostgresServer, RedisServer, postgresBinDir } from '@cdc/testing';
import { drainBare, liveBare } from './bare-decoder';
import { PeakRss, percentile, progress, redisCpuMs } from './bench-util';
import { CpuMeter, GcMeter, GcSummary, MachineMeter, PartProfile, StageClock, gcText, timeCoalescing } from './meters';
import { LatencyBreakdown, LatencyStageClock } from './latency-stages';

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

export interface PhaseResult {
  seconds: number;
  rss: number;
  /** Process CPU (user + system) during the phase, ms. */
  cpuMs: number;
  gc: GcSummary;
  /** The Redis server's CPU (INFO cpu, user + system) during a worker phase, ms. */
  redisCpuMs?: number;
  /** The machine's busy share of all cores during a worker phase, %. */
  machineBusyPercent?: number;
}

export interface DrainResult {
  rows: number;
  transactions: number;
  bare: PhaseResult;
  /** The worker as `run` composes it, on its defaults: plain UNLINKs, which also revoke protocol-2 leases (held in the keys). */
  worker: PhaseResult;
  /** The same worker also deleting protocol-1 lease keys (REDIS_DELETE_LEASES=true, for rolling upgrades from cache-client 0.1). */
  workerLeaseKeys: PhaseResult;
  /** pg_recvlogical draining the same WAL to /dev/null (the walsender's own ceiling), when available. */
  recvlogical?: { seconds: number };
  /** An instrumented worker run: time per row in each stage. */
  stages: Array<{ stage: string; usPerRow: number }>;
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
export function benchPipeline(source: ChangeSource, client: Redis, options: WorkerOptions = {}): InvalidationPipeline {
  const compiled = benchRules();
  const clock = options.clock;
  const rules = { current: () => compiled };
  const latency = options.latencyClock;
  const l2Sink = new RedisInvalidationSink({ client, deleteLeases: options.deleteLeases ?? false });
  const l2 = latency ? latency.sink(l2Sink) : l2Sink;
  const l1 = new L1PubSubSink({ client, source: source.name });
  if (latency) source = latency.source(source);
  return new InvalidationPipeline(
    clock ? clock.source(source) : source,
    clock ? clock.rules(rules) : rules,
    clock ? [clock.sink(l2, 'redis'), clock.sink(l1, 'l1')] : [l2, l1],
    undefined,
    { maxBatchEvents: 5000 },
  );
}

let compiledBenchRules: ReturnType<typeof compileRules> | undefined;

/** BENCH_RULES compiled once: the source asks them which columns to decode, as the worker's does. */
function benchRules(): ReturnType<typeof compileRules> {
  compiledBenchRules ??= compileRules(BENCH_RULES, 'bench-rules.yaml');
  return compiledBenchRules;
}

/** Stage order in the printed breakdown. */
export const STAGES = ['decode', 'rules', 'coalescing', 'redis', 'l1', 'ack'] as const;

interface WorkerOptions {
  deleteLeases?: boolean;
  clock?: StageClock;
  /** Stamps each transaction per stage of the live path (LatencyStageClock). */
  latencyClock?: LatencyStageClock;
}

function workerPipeline(pg: PostgresServer, redis: RedisServer, slot: string, options: WorkerOptions = {}) {
  const client = redis.client();
  const source = new PostgresSource({
    connectionString: pg.url,
    slotName: slot,
    publicationName: 'bench',
    createSlot: false,
    createPublication: false,
    // BENCH_PG_WAIT_FOR_VISIBILITY=false measures the cost of the visibility check (issue 12).
    waitForVisibility: process.env.BENCH_PG_WAIT_FOR_VISIBILITY !== 'false',
    columns: () => columnDemand(benchRules()),
  });
  return { pipeline: benchPipeline(source, client, options), client };
}

/** The Postgres decode stage: the worker's decoder, from the raw pgoutput bytes to events. */
function timeDecode(clock: StageClock): () => void {
  return clock.timeMethod(PgoutputDecoder.prototype, 'decode', 'decode');
}

/** Drains `slot` with the worker until `expectedRows` events were applied. */
async function drainWorker(
  pg: PostgresServer,
  redis: RedisServer,
  slot: string,
  expectedRows: number,
  options: { deleteLeases?: boolean; clock?: StageClock; profile?: string } = {},
): Promise<PhaseResult> {
  const { pipeline, client } = workerPipeline(pg, redis, slot, options);
  const profile = new PartProfile(options.profile ?? '');
  if (options.profile) await profile.ready();
  const rss = new PeakRss();
  const gc = new GcMeter();
  const cpu = new CpuMeter();
  const machine = new MachineMeter();
  const redisCpu0 = await redisCpuMs(client);
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
  const cpuMs = cpu.stopMs();
  const machineBusyPercent = machine.stopPercent();
  const gcSummary = await gc.stop();
  const peak = rss.stop();
  const redisCpu = (await redisCpuMs(client)) - redisCpu0;
  if (options.profile) await profile.stop();
  await pipeline.stop();
  client.disconnect();
  const seconds = Number(t1 - t0) / 1e9;
  const perRow = (ms: number): string => `${((ms * 1000) / expectedRows).toFixed(1)} µs`;
  progress(`drain: ${slot}: ${Math.round(expectedRows / seconds)} rows/s, CPU ${perRow(cpuMs)}/row, Redis CPU ${perRow(redisCpu)}/row, machine ${machineBusyPercent.toFixed(0)} % busy, ${gcText(gcSummary)}`);
  return { seconds, rss: peak, cpuMs, gc: gcSummary, redisCpuMs: redisCpu, machineBusyPercent };
}

async function drainBareMeasured(pg: PostgresServer, slot: string, expectedRows: number): Promise<PhaseResult> {
  const rss = new PeakRss();
  const gc = new GcMeter();
  const cpu = new CpuMeter();
  const r = await drainBare(pg.url, slot, 'bench', expectedRows);
  const cpuMs = cpu.stopMs();
  return { seconds: r.seconds, cpuMs, gc: await gc.stop(), rss: rss.stop() };
}

/** pg_recvlogical from the slot up to `endLsn`, output discarded; undefined when the binary is missing. */
async function drainRecvlogical(pg: PostgresServer, slot: string, endLsn: string): Promise<{ seconds: number } | undefined> {
  const bin = join(postgresBinDir(), 'pg_recvlogical');
  if (!existsSync(bin)) return undefined;
  const t0 = process.hrtime.bigint();
  const args = ['-d', pg.url, '--slot', slot, '--start', '--endpos', endLsn, '-o', 'proto_version=1', '-o', 'publication_names=bench', '--no-loop', '-f', '/dev/null'];
  const code = await new Promise<number | null>((resolve) => spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] }).on('exit', resolve));
  if (code !== 0) return undefined;
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/**
 * Backlog drain: single-row transactions plus one bulk transaction are written while
 * nothing consumes; then the bare decoder drains its slot, and the worker drains an
 * identical slot created at the same WAL position (with and without protocol-1 lease-key deletes, then
 * once more instrumented for the per-stage breakdown). Same WAL, same machine, same run.
 */
export async function benchDrain(pg: PostgresServer, redis: RedisServer, transactions: number, bulkRows: number): Promise<DrainResult> {
  const slots = ['bench_bare', 'bench_worker', 'bench_worker_leasekeys', 'bench_worker_stages', 'bench_worker_leasekeys2', 'bench_worker2', 'bench_bare2', 'bench_recv'];
  for (const slot of slots) await pg.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`);
  progress(`drain: writing ${transactions} single-row transactions and one ${bulkRows}-row transaction`);
  await pg.query(`CALL bench_updates(${transactions})`);
  await pg.query(`UPDATE products SET price = price + 1 WHERE id <= ${bulkRows}`);
  const [{ lsn: endLsn }] = await pg.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
  const expectedRows = transactions + bulkRows;

  // The baseline runs before and after the worker (caches warm up during the first run);
  // the faster of the two is reported, which keeps the ratio conservative.
  progress('drain: bare decoder (1/2)');
  const bare1 = await drainBareMeasured(pg, 'bench_bare', expectedRows);
  // The worker, with and without protocol-1 lease-key deletes, also runs twice, in mirrored
  // order (default, lease keys, ..., lease keys, default), and the faster run of each is
  // reported: the first run warms the JIT up, which would otherwise count against whichever
  // variant went first.
  progress('drain: worker (rules → Redis UNLINK → L1 pub/sub → ack) (1/2)');
  const worker1 = await drainWorker(pg, redis, 'bench_worker', expectedRows, { profile: 'drain-worker' });
  progress('drain: worker also deleting protocol-1 lease keys (1/2)');
  const leaseKeys1 = await drainWorker(pg, redis, 'bench_worker_leasekeys', expectedRows, { deleteLeases: true, profile: 'drain-worker-leasekeys' });
  progress('drain: worker, instrumented per stage');
  const clock = new StageClock();
  const undo = [timeDecode(clock), timeCoalescing(clock)];
  await drainWorker(pg, redis, 'bench_worker_stages', expectedRows, { clock });
  undo.forEach((u) => u());
  progress('drain: worker also deleting protocol-1 lease keys (2/2)');
  const leaseKeys2 = await drainWorker(pg, redis, 'bench_worker_leasekeys2', expectedRows, { deleteLeases: true });
  progress('drain: worker (2/2)');
  const worker2 = await drainWorker(pg, redis, 'bench_worker2', expectedRows);
  const worker = faster(worker1, worker2);
  const workerLeaseKeys = faster(leaseKeys1, leaseKeys2);
  progress('drain: bare decoder (2/2)');
  const bare2 = await drainBareMeasured(pg, 'bench_bare2', expectedRows);
  progress('drain: pg_recvlogical');
  const recvlogical = await drainRecvlogical(pg, 'bench_recv', endLsn);
  return {
    rows: expectedRows,
    transactions: transactions + 1,
    bare: { ...faster(bare1, bare2), rss: bare1.rss },
    worker,
    workerLeaseKeys,
    recvlogical,
    stages: clock.perRow(expectedRows, STAGES),
  };
}

/** Of two runs of the same phase, the one that finished sooner. */
function faster(a: PhaseResult, b: PhaseResult): PhaseResult {
  return a.seconds < b.seconds ? a : b;
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
  gc: GcSummary;
  /** The bare decoder at the same rate: commit timestamp → COMMIT decoded, no sinks. */
  bare: Percentiles;
  /** Where the worker's time went per stage, batch sizes, and CPU use during the run. */
  breakdown: LatencyBreakdown;
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

  // The headline figures come from a worker without the stage clock: its per-transaction
  // stamps cost about a fifth of the worker's CPU at this rate (--cpu-prof). A second,
  // instrumented run gives the breakdown (compare its stages with each other, not with the
  // headline).
  const plain = await liveWorker(pg, redis, 'bench_live', rate, seconds);
  const latencyClock = new LatencyStageClock();
  const instrumented = await liveWorker(pg, redis, 'bench_live_stages', rate, seconds, latencyClock);
  const breakdown = instrumented.breakdown!;
  return { rate, achievedRate: plain.achievedRate, rss: plain.rss, gc: plain.gc, ...percentiles(plain.latencies), bare: percentiles(bare.latenciesMs), breakdown };
}

/** One live worker run on its own slot: the writer at `rate` for `seconds`, commit → Redis per transaction. */
async function liveWorker(pg: PostgresServer, redis: RedisServer, slot: string, rate: number, seconds: number, latencyClock?: LatencyStageClock) {
  await pg.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`);
  const { pipeline, client } = workerPipeline(pg, redis, slot, { latencyClock });
  const latencies: number[] = [];
  pipeline.onApplied(({ batch, redisAppliedAtMs }) => {
    for (const t of batch.commitTimesMs) latencies.push(redisAppliedAtMs - t);
  });
  await pipeline.start();
  const rss = new PeakRss();
  const gc = new GcMeter();
  progress(`latency: worker${latencyClock ? ' (instrumented, for the stage breakdown)' : ''} at ${rate} tx/s for ${seconds} s`);
  latencyClock?.begin();
  const achievedRate = await writeAtRate(pg, rate, seconds);
  const breakdown = latencyClock?.stop();
  await new Promise((r) => setTimeout(r, 500));
  const peak = rss.stop();
  const gcSummary = await gc.stop();
  await pipeline.stop();
  client.disconnect();
  return { achievedRate, rss: peak, gc: gcSummary, latencies, breakdown };
}
