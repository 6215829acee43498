/**
 * `node dist/bench/pipeline-hotpath.js [sinks]`: the worker's path after decoding, alone. An
 * in-memory source hands out the drain benchmark's events (BENCH_TX single-row updates,
 * then one BENCH_BULK_ROWS-row update of the products table, before and after rows as
 * pgoutput gives them with REPLICA IDENTITY FULL), already decoded, through the same rules
 * and sinks as bench/pg-bench.ts. Prints CPU per row, GC count and pause, peak RSS.
 *
 * sinks: `redis` (default: Redis L2 on the worker's defaults + L1 pub/sub on a throwaway Redis),
 * `none` (rules and coalescing only). What is left is the cost the pgoutput decoder cannot
 * explain: compare with the drain's CPU per row on the same machine.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { Socket } from 'node:net';
import Redis from 'ioredis';
import { ChangeEvent, ChangeSource, SourceBatch } from '@cdc/core';
import { RedisServer } from '@cdc/testing';
import { InvalidationPipeline } from '@cdc/pipeline';
import { compileRules } from '@cdc/rules';
import { L1PubSubSink, RedisInvalidationSink } from '@cdc/sink-redis';
import { PeakRss } from './bench-util';
import { CpuMeter, GcMeter, PartProfile, gcText } from './meters';
import { BENCH_RULES, percentiles } from './pg-bench';

/**
 * The drain's events, built lazily per read so the generator's own garbage is like a decoder's.
 * With `rate`, a live stream instead: transaction i becomes readable (and is stamped committed)
 * at i / rate seconds, checked every millisecond like a socket's data events.
 */
class MemorySource implements ChangeSource {
  readonly name = 'postgres';
  readonly status = 'streaming' as const;
  private next = 0;
  private t0 = 0;
  private waiter?: () => void;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly transactions: number,
    private readonly bulkRows: number,
    private readonly rate = 0,
  ) {}

  get total(): number {
    return this.transactions + this.bulkRows;
  }

  async start(): Promise<void> {
    this.t0 = Date.now();
    if (this.rate > 0) this.timer = setInterval(() => this.waiter?.(), 1);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.waiter?.();
  }

  private available(): number {
    if (this.rate === 0) return this.total;
    return Math.min(this.total, Math.floor(((Date.now() - this.t0) * this.rate) / 1000));
  }

  async read(max: number): Promise<SourceBatch | null> {
    // Nothing readable yet (or drained): wait like a live source, until stopped.
    while (this.next >= this.available()) {
      if (this.stopped) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const n = Math.min(max, this.available() - this.next);
    const events = new Array<ChangeEvent>(n);
    for (let i = 0; i < n; i++) events[i] = this.event(this.next + i);
    this.next += n;
    return { events, ack: () => undefined };
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
      commitTimeMs: this.rate > 0 ? this.t0 + (tx * 1000) / this.rate : Date.now(),
      position: `0/${(0x1000000 + tx * 0x100).toString(16).toUpperCase()}`,
      txId: String(1000 + tx),
    };
  }
}

async function main(): Promise<void> {
  const sinks = process.argv[2] ?? 'redis';
  // BENCH_RATE=n: live, n single-row transactions per second for BENCH_SECONDS (default 10).
  const rate = Number(process.env.BENCH_RATE ?? 0);
  const source =
    rate > 0
      ? new MemorySource(rate * Number(process.env.BENCH_SECONDS ?? 10), 0, rate)
      : new MemorySource(Number(process.env.BENCH_TX ?? 100_000), Number(process.env.BENCH_BULK_ROWS ?? 200_000));
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
  let batches = 0;
  // Socket writes (each one a syscall and a wake-up of Redis): counted per applied batch.
  let writes = 0;
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    writes++;
    return write.apply(this, args);
  } as Socket['write'];
  const latencies: number[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const done = new Promise<void>((resolve) =>
    pipeline.onApplied(({ batch, redisAppliedAtMs }) => {
      for (const t of batch.commitTimesMs) latencies.push(redisAppliedAtMs - t);
      batches++;
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
  loopDelay.disable();
  const cpuMs = cpu.stopMs();
  const gcSummary = await gc.stop();
  const peak = rss.stop();
  await profile.stop();
  await pipeline.stop(1000);
  client?.disconnect();
  await redis?.destroy();
  const result = {
    sinks,
    rate,
    rows: source.total,
    seconds: Number(seconds.toFixed(3)),
    cpuUsPerRow: Number(((cpuMs * 1000) / source.total).toFixed(2)),
    rowsPerSecond: Math.round(source.total / seconds),
    batches,
    socketWritesPerBatch: Number((writes / batches).toFixed(2)),
    cpuUsPerBatch: Math.round((cpuMs * 1000) / batches),
    gc: gcSummary,
    peakRssMb: Math.round(peak / 1048576),
    latencyMs: rate > 0 ? percentiles(latencies) : undefined,
    eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    execArgv: process.execArgv,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const live = result.latencyMs ? `, commit → Redis p50 ${result.latencyMs.p50.toFixed(2)} / p99 ${result.latencyMs.p99.toFixed(2)} / max ${result.latencyMs.max.toFixed(1)} ms` : '';
  const loop = `, event-loop delay p99 ${result.eventLoopDelayMs.p99.toFixed(1)} / max ${result.eventLoopDelayMs.max.toFixed(1)} ms`;
  process.stderr.write(`${sinks}: ${result.cpuUsPerRow} µs CPU/row, ${result.rowsPerSecond} rows/s, ${batches} batches (${result.cpuUsPerBatch} µs CPU, ${result.socketWritesPerBatch} socket writes each), ${gcText(gcSummary)}, peak RSS ${result.peakRssMb} MB${live}${loop}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
