/**
 * `npm run bench`: measures the numbers DESIGN.md promises, each against a baseline measured
 * in the same run on the same machine, and prints a table.
 *   BENCH_TX (default 100000)        single-row transactions in the backlog
 *   BENCH_BULK_ROWS (default 200000) rows in the bulk transaction
 *   BENCH_RATE (default 5000)        live transactions per second
 *   BENCH_SECONDS (default 10)       live duration
 *   BENCH_KAFKA_EVENTS (default 300000)
 *   BENCH_PARTS (default latency,drain,cdn,kafka,debezium,client)  which parts to run
 *   BENCH_CLIENT_SECONDS (default 3)  per client contender and scenario (bench/client-bench.ts)
 *   BENCH_DEBEZIUM_RATE (default 1000)  tx/s for the Debezium-vs-direct latency
 *   BENCH_PG_WAIT_FOR_VISIBILITY (default true)  false: the worker's Postgres source without the visibility check
 *   BENCH_JSON (default bench-results.json)  where the table is also written, as JSON
 *   BENCH_PROFILE (unset)            a directory: CPU profiles of the worker drains go there (the profiler
 *                                    slows those runs: read ratios from a run without it)
 */
import { PostgresServer, RedisServer } from '@cdc/testing';
import { benchDrain, benchLatency, setupSchema } from './pg-bench';
import { LatencyBreakdown } from './latency-stages';
import { runCdnBench } from './cdn-bench';
import { runKafkaBench } from './kafka-bench';
import { runDebeziumLatencyBench } from './debezium-latency';
import { runClientBench } from './client-bench';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { Row, StageRow, mb, printStages, printTable, progress } from './bench-util';
import { gcText } from './meters';

// The table goes to stdout; keep the worker's own logs to warnings and above.
process.env.LOG_LEVEL ??= 'warn';

async function main(): Promise<void> {
  const parts = new Set((process.env.BENCH_PARTS ?? 'latency,drain,cdn,kafka,debezium,client').split(',').map((p) => p.trim()));
  const rows: Row[] = [];
  const stages: StageRow[] = [];
  /** The live latency breakdown as numbers, so runs can be compared from the JSON. */
  const latency: { breakdown?: LatencyBreakdown } = {};
  if (parts.has('latency') || parts.has('drain')) rows.push(...(await postgresRows(parts, stages, latency)));
  if (parts.has('cdn')) rows.push(...(await cdnRows()));
  if (parts.has('kafka')) {
    progress('kafka: Debezium JSON events drained by the worker vs a bare kafkajs consumer');
    rows.push(...(await runKafkaBench(stages)));
  }
  if (parts.has('debezium')) rows.push(...(await runDebeziumLatencyBench()));
  if (parts.has('client')) rows.push(...(await runClientBench()));
  printTable(rows);
  if (stages.length) {
    process.stdout.write('\nPer-row time by stage (instrumented runs; sync stages are CPU, redis/l1 are apply() → settled, per row):\n');
    printStages(stages);
  }
  const file = resolve(process.env.BENCH_JSON ?? 'bench-results.json');
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, execArgv: process.execArgv, env: benchEnv(), rows, stages, latencyBreakdown: latency.breakdown }, null, 2) + '\n');
  process.stdout.write(`\n(table written to ${file})\n`);
}

function benchEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('BENCH_') && e[1] !== undefined));
}

/** Live latency (first, so its RSS is a steady-state figure) and the backlog drain, on one Postgres and Redis. */
async function postgresRows(parts: Set<string>, stages: StageRow[], latency: { breakdown?: LatencyBreakdown }): Promise<Row[]> {
  const tx = Number(process.env.BENCH_TX ?? 100_000);
  const bulk = Number(process.env.BENCH_BULK_ROWS ?? 200_000);
  const rate = Number(process.env.BENCH_RATE ?? 5000);
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const rows: Row[] = [];
  progress('starting Postgres (wal_level=logical) and Redis');
  // synchronous_commit stays on: with it off, WAL reaches the walsender only every wal_writer_delay (200 ms).
  const pg = await PostgresServer.start();
  const redis = await RedisServer.start();
  try {
    await setupSchema(pg, Math.max(bulk, 1000));
    if (parts.has('latency')) {
      const l = await benchLatency(pg, redis, rate, seconds);
      const f = (ms: number) => `${ms.toFixed(2)} ms`;
      const bare = (ms: number) => `${ms.toFixed(2)} ms (bare decoder)`;
      const ratio = (w: number, b: number) => (b > 0 ? (w / b).toFixed(1) : '');
      rows.push({ scenario: `live ${rate} tx/s (${l.achievedRate.toFixed(0)} achieved)`, metric: 'commit → Redis p50', value: f(l.p50), baseline: bare(l.bare.p50), ratio: ratio(l.p50, l.bare.p50), target: '≤ 1 ms' });
      rows.push({ scenario: '', metric: 'p90', value: f(l.p90), baseline: bare(l.bare.p90), ratio: ratio(l.p90, l.bare.p90), target: '' });
      rows.push({ scenario: '', metric: 'p99', value: f(l.p99), baseline: bare(l.bare.p99), ratio: ratio(l.p99, l.bare.p99), target: '≤ 10 ms' });
      rows.push({ scenario: '', metric: 'max', value: f(l.max), baseline: bare(l.bare.max), ratio: '', target: '' });
      rows.push({ scenario: '', metric: 'samples', value: String(l.samples), baseline: String(l.bare.samples), ratio: '', target: '' });
      rows.push({ scenario: '', metric: 'peak RSS', value: mb(l.rss), baseline: '', ratio: '', target: '≤ 150 MB' });
      rows.push({ scenario: '', metric: 'GC', value: gcText(l.gc), baseline: '', ratio: '', target: '' });
      const b = l.breakdown;
      latency.breakdown = b;
      for (const st of b.stages) {
        rows.push({ scenario: '', metric: `instrumented run: stage ${st.stage} p50 / p99`, value: `${st.p50.toFixed(2)} / ${st.p99.toFixed(2)} ms`, baseline: st.what, ratio: '', target: '' });
      }
      rows.push({ scenario: '', metric: 'instrumented run: tx per Redis batch', value: `mean ${b.batchTx.mean.toFixed(1)}, p50 ${b.batchTx.p50}, p99 ${b.batchTx.p99}, max ${b.batchTx.max}`, baseline: `${b.batchTx.batches} batches`, ratio: '', target: '' });
      rows.push({ scenario: '', metric: 'instrumented run: event-loop delay p50 / p99 / max', value: `${b.loopDelay.p50.toFixed(2)} / ${b.loopDelay.p99.toFixed(2)} / ${b.loopDelay.max.toFixed(1)} ms`, baseline: 'worker process', ratio: '', target: '' });
      rows.push({ scenario: '', metric: 'instrumented run: visibility gate', value: `${b.gate.snapshots} snapshots for ${b.gate.calls} batches`, baseline: `${b.gate.waited} batches needed a second snapshot`, ratio: '', target: '' });
      rows.push({ scenario: '', metric: 'instrumented run: CPU', value: `worker ${b.workerCpuPercentOfCore.toFixed(0)}% of a core`, baseline: `machine ${b.machineBusyPercent.toFixed(0)}% busy of ${b.cores} cores`, ratio: '', target: '' });
    }
    if (parts.has('drain')) {
      const d = await benchDrain(pg, redis, tx, bulk);
      const bareRate = d.rows / d.bare.seconds;
      const workerRate = d.rows / d.worker.seconds;
      rows.push({
        scenario: `drain ${tx} tx + ${bulk}-row tx`,
        metric: 'rows/s',
        value: workerRate.toFixed(0),
        baseline: `${bareRate.toFixed(0)} (bare decoder)`,
        ratio: (workerRate / bareRate).toFixed(2),
        target: '≥ 0.90',
      });
      rows.push({
        scenario: '',
        metric: 'transactions/s',
        value: (d.transactions / d.worker.seconds).toFixed(0),
        baseline: (d.transactions / d.bare.seconds).toFixed(0),
        ratio: (d.bare.seconds / d.worker.seconds).toFixed(2),
        target: '≥ 0.90',
      });
      // Protocol 2 (the default) revokes a lease with the key's own UNLINK: the worker sends no
      // lease deletes, so the rows above are the drain "with lease deletes". What the
      // protocol-1 lease keys (REDIS_DELETE_LEASES=true, rolling upgrades from cache-client 0.1) cost:
      const leaseKeyRate = d.rows / d.workerLeaseKeys.seconds;
      const p1 = 'protocol-1 lease keys on / off';
      const off = '(REDIS_DELETE_LEASES=false, the default)';
      rows.push({
        scenario: '',
        metric: `rows/s, ${p1}`,
        value: leaseKeyRate.toFixed(0),
        baseline: `${workerRate.toFixed(0)} ${off}`,
        ratio: (leaseKeyRate / workerRate).toFixed(2),
        target: 'upgrades only',
      });
      const redisUs = (r: { redisCpuMs?: number }): string => `${(((r.redisCpuMs ?? 0) * 1000) / d.rows).toFixed(1)} µs`;
      rows.push({
        scenario: '',
        metric: `Redis server CPU per row, ${p1}`,
        value: redisUs(d.workerLeaseKeys),
        baseline: `${redisUs(d.worker)} ${off}`,
        ratio: ((d.workerLeaseKeys.redisCpuMs ?? 0) / (d.worker.redisCpuMs || 1)).toFixed(2),
        target: '',
      });
      const busy = (r: { machineBusyPercent?: number }): string => `${(r.machineBusyPercent ?? 0).toFixed(0)} %`;
      rows.push({ scenario: '', metric: `machine busy (${cpus().length} cores), ${p1}`, value: busy(d.workerLeaseKeys), baseline: `${busy(d.worker)} ${off}`, ratio: '', target: '' });
      const cpuUs = (r: { cpuMs: number }): string => `${((r.cpuMs * 1000) / d.rows).toFixed(1)} µs`;
      rows.push({
        scenario: '',
        metric: `worker CPU per row, ${p1}`,
        value: cpuUs(d.workerLeaseKeys),
        baseline: `${cpuUs(d.worker)} ${off}`,
        ratio: (d.workerLeaseKeys.cpuMs / d.worker.cpuMs).toFixed(2),
        target: '',
      });
      rows.push({ scenario: '', metric: `GC, ${p1}`, value: gcText(d.workerLeaseKeys.gc), baseline: `${gcText(d.worker.gc)} ${off}`, ratio: '', target: '' });
      if (d.recvlogical) {
        const recvRate = d.rows / d.recvlogical.seconds;
        rows.push({ scenario: '', metric: 'rows/s vs pg_recvlogical', value: workerRate.toFixed(0), baseline: `${recvRate.toFixed(0)} (pg_recvlogical)`, ratio: (workerRate / recvRate).toFixed(2), target: '' });
      }
      rows.push({ scenario: '', metric: 'peak RSS', value: mb(d.worker.rss), baseline: mb(d.bare.rss), ratio: '', target: '≤ 300 MB' });
      rows.push({ scenario: '', metric: 'CPU per row', value: `${((d.worker.cpuMs * 1000) / d.rows).toFixed(1)} µs`, baseline: `${((d.bare.cpuMs * 1000) / d.rows).toFixed(1)} µs`, ratio: (d.worker.cpuMs / d.bare.cpuMs).toFixed(2), target: '' });
      rows.push({ scenario: '', metric: 'GC', value: gcText(d.worker.gc), baseline: gcText(d.bare.gc), ratio: '', target: '' });
      for (const s of d.stages) stages.push({ part: 'drain', stage: s.stage, usPerRow: s.usPerRow });
    }
  } finally {
    await redis.destroy();
    await pg.destroy();
  }
  return rows;
}

async function cdnRows(): Promise<Row[]> {
  progress('cdn: commit → purge request (fake Cloudflare at 100–300 ms), burst of 10,000 changes to 100 rows');
  return (await runCdnBench()).map((r) => {
    const isLatency = r.metric.includes('(ms)');
    return {
      scenario: isLatency ? 'cdn purge, 40 tx/s' : 'cdn burst',
      metric: r.metric.replace(/^cdn /, ''),
      value: isLatency ? `${r.value.toFixed(0)} ms` : r.value.toFixed(4),
      baseline: isLatency ? `${r.baseline} ms budget` : `${r.baseline} (naive: 1 request per change)`,
      ratio: r.ratio.toFixed(3),
      target: isLatency ? (r.metric.includes('p99') ? '≤ 250 ms' : '') : '≤ 0.1',
    };
  });
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
