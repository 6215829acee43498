import { createKafkaSource } from '@cdc/source-kafka';
import { PostgresSource } from '@cdc/source-postgres';
import { RedisServer } from '@cdc/testing';
import { startDebeziumStack } from '../test/support/debezium-harness';
import { Row, progress } from './bench-util';
import { Percentiles, benchPipeline, percentiles, schemaSql, writeAtRate } from './pg-bench';
import { ChangeSource } from '@cdc/core';

/**
 * Commit → Redis acknowledged through Debezium → Kafka → worker, beside the direct Postgres
 * path, at the same fixed rate on the same Postgres in the same run. Debezium adds its
 * polling, the JSON converter and a Kafka round trip; this shows how much.
 */
export async function runDebeziumLatencyBench(rate = Number(process.env.BENCH_DEBEZIUM_RATE ?? 1000), seconds = 8): Promise<Row[]> {
  progress('debezium: starting Postgres, Kafka and Debezium (Kafka Connect)');
  const stack = await startDebeziumStack({
    prefix: 'cdc',
    tables: ['public.products'],
    schemas: false,
    connector: { 'decimal.handling.mode': 'string' },
    setupSql: [schemaSql(1000)],
  });
  const redis = await RedisServer.start();
  try {
    await stack.kafka.createTopic('cdc.public.products', 4);
    await stack.pg.query(`SELECT pg_create_logical_replication_slot('bench_direct', 'pgoutput')`);

    progress(`debezium: direct Postgres path at ${rate} tx/s for ${seconds} s`);
    const direct = new PostgresSource({ connectionString: stack.pg.url, slotName: 'bench_direct', publicationName: 'bench', createSlot: false, createPublication: false });
    const directLatency = await measure(direct, redis, (startClock) => {
      startClock();
      return writeAtRate(stack.pg, rate, seconds);
    });

    progress(`debezium: Debezium → Kafka path at ${rate} tx/s for ${seconds} s`);
    const viaKafka = createKafkaSource({ brokers: [stack.kafka.bootstrap], groupId: 'bench-debezium', topics: ['cdc.public.products'], sessionTimeoutMs: 6000 });
    const kafkaLatency = await measure(viaKafka, redis, async (startClock) => {
      // Let the consumer join and drain the direct run's changes before the clock starts.
      await new Promise((r) => setTimeout(r, 5000));
      startClock();
      return writeAtRate(stack.pg, rate, seconds);
    });

    const f = (ms: number) => `${ms.toFixed(1)} ms`;
    const row = (metric: string, k: Percentiles, d: Percentiles, key: 'p50' | 'p99' | 'max'): Row => ({
      scenario: metric === 'p50' ? `via Debezium → Kafka, ${rate} tx/s` : '',
      metric: `commit → Redis ${key}`,
      value: f(k[key]),
      baseline: `${f(d[key])} (direct pgoutput)`,
      ratio: d[key] > 0 ? (k[key] / d[key]).toFixed(1) : '',
      target: '',
    });
    return [
      row('p50', kafkaLatency, directLatency, 'p50'),
      row('p99', kafkaLatency, directLatency, 'p99'),
      row('max', kafkaLatency, directLatency, 'max'),
      { scenario: '', metric: 'samples', value: String(kafkaLatency.samples), baseline: String(directLatency.samples), ratio: '', target: '' },
    ];
  } finally {
    await redis.destroy();
    await stack.destroy();
  }
}

async function measure(source: ChangeSource, redis: RedisServer, write: (startClock: () => void) => Promise<number>): Promise<Percentiles> {
  const client = redis.client();
  const pipeline = benchPipeline(source, client);
  const latencies: number[] = [];
  // Only transactions committed during this measurement count (the topic also holds the direct run's changes).
  let since = Number.POSITIVE_INFINITY;
  pipeline.onApplied(({ batch, redisAppliedAtMs }) => {
    for (const t of batch.commitTimesMs) if (t >= since) latencies.push(redisAppliedAtMs - t);
  });
  await pipeline.start();
  await write(() => (since = Date.now()));
  await new Promise((r) => setTimeout(r, 2000));
  await pipeline.stop();
  client.disconnect();
  return percentiles(latencies);
}
