/**
 * `node dist/bench/pipeline-hotpath.js [sinks]`: the worker's path after decoding, alone. An
 * in-memory source hands out the drain benchmark's events (BENCH_TX single-row updates,
 * then one BENCH_BULK_ROWS-row update of the products table, before and after rows as
 * pgoutput gives them with REPLICA IDENTITY FULL), already decoded, through the same rules
 * and sinks as bench/pg-bench.ts. Prints CPU per row, GC count and pause, peak RSS.
 *
 * sinks: `redis` (default: Redis L2 with lease deletes + L1 pub/sub on a throwaway Redis),
 * `none` (rules and coalescing only). What is left is the cost the pgoutput decoder cannot
 * explain: compare with the drain's CPU per row on the same machine.
 */
import { writeHeapSnapshot } from 'node:v8';
import Redis from 'ioredis';
import { ChangeEvent, ChangeSource, SourceBatch } from '@cdc/core';
import { RedisServer } from '@cdc/testing';
import { InvalidationPipeline } from '@cdc/pipeline';
import { compileRules } from '@cdc/rules';
import { L1PubSubSink, RedisInvalidationSink } from '@cdc/sink-redis';
import { PeakRss } from './bench-util';
import { CpuMeter, GcMeter, PartProfile, gcText } from './meters';
import { BENCH_RULES } from './pg-bench';

/** The drain's events, built lazily per batch so the generator's own garbage matches a decoder's. */
class MemorySource implements ChangeSource {
  readonly name = 'postgres';
  readonly status = 'streaming' as const;
  private next = 0;
  acked = 0;

  constructor(
    private readonly transactions: number,
    private readonly bulkRows: number,
  ) {}

  get total(): number {
    return this.transactions + this.bulkRows;
  }

  private stopped?: () => void;

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.stopped?.();
  }

  async read(max: number): Promise<SourceBatch | null> {
    // Drained: wait like a live source until stopped.
    if (this.next >= this.total) return new Promise<null>((resolve) => (this.stopped = () => resolve(null)));
    const n = Math.min(max, this.total - this.next);
    const events = new Array<ChangeEvent>(n);
    for (let i = 0; i < n; i++) events[i] = this.event(this.next + i);
    this.next += n;
    return { events, ack: () => (this.acked += n) };
  }

  private event(i: number): ChangeEvent {
    const single = i < this.transactions;
    const id = single ? 1 + (i % Math.max(this.bulkRows, 1000)) : 1 + (i - this.transactions);
    const tx = single ? i : this.transactions;
    const row = (price: number) => ({ id, slug: `p-${id}`, title: `Product ${id}`, price: `${price}.00`, category_id: id % 50 });
    return {
      op: 'update',
      schema: 'public',
      table: 'products',
      before: row(10),
      after: row(11),
      keyColumns: ['id'],
      commitTimeMs: Date.now(),
      position: `0/${(0x1000000 + tx * 0x100).toString(16).toUpperCase()}`,
      txId: String(1000 + tx),
    };
  }
}

async function main(): Promise<void> {
  const sinks = process.argv[2] ?? 'redis';
  const source = new MemorySource(Number(process.env.BENCH_TX ?? 100_000), Number(process.env.BENCH_BULK_ROWS ?? 200_000));
  const redis = sinks === 'redis' ? await RedisServer.start() : undefined;
  const client = redis ? new Redis(redis.port, '127.0.0.1') : undefined;
  const compiled = compileRules(BENCH_RULES, 'bench-rules.yaml');
  const pipeline = new InvalidationPipeline(
    source,
    { current: () => compiled },
    client ? [new RedisInvalidationSink({ client }), new L1PubSubSink({ client, source: 'postgres' })] : [],
    undefined,
    { maxBatchEvents: 5000 },
  );
  const profile = new PartProfile(`hotpath-${sinks}`);
  await profile.ready();
  const rss = new PeakRss();
  const gc = new GcMeter();
  const cpu = new CpuMeter();
  const t0 = process.hrtime.bigint();
  let events = 0;
  const done = new Promise<void>((resolve) =>
    pipeline.onApplied(({ batch }) => {
      const before = events;
      events += batch.eventCount;
      // BENCH_HEAP_SNAPSHOT=n: what is alive once n rows went through (node's heap snapshot, in the cwd).
      const at = Number(process.env.BENCH_HEAP_SNAPSHOT ?? 0);
      if (at > 0 && before < at && events >= at) process.stderr.write(`heap snapshot: ${writeHeapSnapshot()}\n`);
      if (events >= source.total) resolve();
    }),
  );
  await pipeline.start();
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuMs = cpu.stopMs();
  const gcSummary = await gc.stop();
  const peak = rss.stop();
  await profile.stop();
  await (globalThis as { __stopAllocProfile?: () => Promise<void> }).__stopAllocProfile?.();
  await pipeline.stop(1000);
  client?.disconnect();
  await redis?.destroy();
  const result = {
    sinks,
    rows: source.total,
    seconds: Number(seconds.toFixed(3)),
    cpuUsPerRow: Number(((cpuMs * 1000) / source.total).toFixed(2)),
    rowsPerSecond: Math.round(source.total / seconds),
    gc: gcSummary,
    peakRssMb: Math.round(peak / 1048576),
    execArgv: process.execArgv,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stderr.write(`${sinks}: ${result.cpuUsPerRow} µs CPU/row, ${result.rowsPerSecond} rows/s, ${gcText(gcSummary)}, peak RSS ${result.peakRssMb} MB\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
