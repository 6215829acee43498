import { fork } from 'node:child_process';
import { ChangeSource } from '@cdc/core';
import { createKafkaSource } from '@cdc/source-kafka';
import { KafkaServer, RedisServer } from '@cdc/testing';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import Redis from 'ioredis';
import { PeakRss, Row, StageRow, mb, progress } from './bench-util';
import { CpuMeter, GcMeter, GcSummary, PartProfile, StageClock, gcText, timeCoalescing } from './meters';
import { STAGES, benchPipeline } from './pg-bench';
import { DebeziumDecoder } from '@cdc/source-kafka/debezium-decoder';

/**
 * Kafka throughput: a backlog of Debezium-format updates across 4 partitions, as Debezium's
 * default JsonConverter writes them (schemas.enable=true: every record embeds the envelope
 * schema, most of its bytes; BENCH_KAFKA_SCHEMAS=false writes bare payloads), drained by
 *   - the baseline: a bare kafkajs consumer (eachBatch, no decoding, no processing), and
 *   - one worker end to end: KafkaSource (Debezium decoding, per-partition checkpoints,
 *     offset commits) → rules → Redis UNLINK → L1 pub/sub → ack, via InvalidationPipeline,
 * on the same topic in the same run, each in a fresh child process so that its peak RSS is
 * its own (producing 300k messages would otherwise inflate the figure).
 * Rates are measured from the first record received to the last one done, so the consumer
 * group join (seconds, the same for both) does not count as throughput.
 *   BENCH_KAFKA_EVENTS (default 300000): events in the backlog
 *   BENCH_KAFKA_MAX_BUFFERED_EVENTS (default: the source's, KAFKA_MAX_BUFFERED_EVENTS): the
 *     worker's decoded-event buffer; it bounds how many decoded events live long enough to be
 *     promoted to the old generation, so it moves GC cost per event
 */

const TOPIC = 'cdc.public.products';
const PARTITIONS = 4;
const ROWS = 10_000;
const SCHEMAS = process.env.BENCH_KAFKA_SCHEMAS !== 'false';

type ChildMode = 'produce' | 'bare' | 'bare-parse' | 'worker' | 'worker-stages';
interface ChildArgs {
  brokers: string[];
  events: number;
  redisUrl?: string;
  /** The record shape the children write and read (BENCH_KAFKA_SCHEMAS in the child). */
  schemas: boolean;
}
interface DrainResult {
  events: number;
  seconds: number;
  rss: number;
  cpuMs?: number;
  gc?: GcSummary;
  stages?: Array<{ stage: string; usPerRow: number }>;
}

/**
 * Both record shapes a Debezium deployment produces, one after the other on a fresh broker:
 * with schemas (JsonConverter's default) and bare payloads (schemas.enable=false), so neither
 * figure hides the other. BENCH_KAFKA_SCHEMAS=true or false runs only that one.
 */
export async function runKafkaBench(stages: StageRow[] = []): Promise<Row[]> {
  const only = process.env.BENCH_KAFKA_SCHEMAS;
  const variants = only === undefined || only === '' ? [true, false] : [only !== 'false'];
  const rows: Row[] = [];
  for (const schemas of variants) rows.push(...(await runKafkaVariant(schemas, stages)));
  return rows;
}

async function runKafkaVariant(schemas: boolean, stages: StageRow[]): Promise<Row[]> {
  const events = positiveIntEnv('BENCH_KAFKA_EVENTS') ?? 300_000;
  const label = schemas ? 'with schemas' : 'no schemas';
  progress(`kafka (${label}): starting Kafka and Redis`);
  const [kafka, redis] = await Promise.all([KafkaServer.start(), RedisServer.start()]);
  try {
    await kafka.createTopic(TOPIC, PARTITIONS);
    const args: ChildArgs = { brokers: kafka.brokers, events, redisUrl: redis.url, schemas };
    progress(`kafka: producing ${events} Debezium updates over ${ROWS} rows to ${PARTITIONS} partitions`);
    await inChild('produce', args);
    progress('kafka: bare kafkajs consumer (eachBatch, no processing)');
    const bare = await inChild('bare', args);
    progress('kafka: bare kafkajs consumer + JSON.parse of each value (the least any Debezium consumer does)');
    const parse = await inChild('bare-parse', args);
    progress('kafka: worker (KafkaSource → rules → Redis UNLINK → L1 pub/sub → commit)');
    const worker = await inChild('worker', args);
    progress('kafka: worker, instrumented per stage');
    const instrumented = await inChild('worker-stages', args);
    for (const st of instrumented.stages ?? []) stages.push({ part: schemas ? 'kafka' : 'kafka (no schemas)', stage: st.stage, usPerRow: st.usPerRow });
    const bareRate = bare.events / bare.seconds;
    const workerRate = worker.events / worker.seconds;
    const parseRate = parse.events / parse.seconds;
    return [
      {
        scenario: `kafka drain ${events} Debezium updates (${label}), ${PARTITIONS} partitions`,
        metric: 'events/s',
        value: workerRate.toFixed(0),
        baseline: `${bareRate.toFixed(0)} (bare kafkajs)`,
        ratio: (workerRate / bareRate).toFixed(2),
        target: '≥ 0.70',
      },
      {
        scenario: '',
        metric: 'events/s vs parsing consumer',
        value: workerRate.toFixed(0),
        baseline: `${parseRate.toFixed(0)} (kafkajs + JSON.parse)`,
        ratio: (workerRate / parseRate).toFixed(2),
        target: '',
      },
      { scenario: '', metric: 'peak RSS', value: mb(worker.rss), baseline: mb(bare.rss), ratio: '', target: '≤ 200 MB' },
      {
        scenario: '',
        metric: 'CPU per event',
        value: `${(((worker.cpuMs ?? 0) * 1000) / worker.events).toFixed(1)} µs`,
        baseline: `${(((parse.cpuMs ?? 0) * 1000) / parse.events).toFixed(1)} µs (kafkajs + JSON.parse)`,
        ratio: ((worker.cpuMs ?? 0) / (parse.cpuMs ?? 1)).toFixed(2),
        target: '',
      },
      {
        scenario: '',
        metric: 'CPU per event vs bare kafkajs',
        value: `${(((worker.cpuMs ?? 0) * 1000) / worker.events).toFixed(1)} µs`,
        baseline: `${(((bare.cpuMs ?? 0) * 1000) / bare.events).toFixed(1)} µs (bare kafkajs)`,
        ratio: ((worker.cpuMs ?? 0) / (bare.cpuMs ?? 1)).toFixed(2),
        target: '',
      },
      { scenario: '', metric: 'GC', value: gcText(worker.gc!), baseline: gcText(parse.gc!), ratio: '', target: '' },
      { scenario: '', metric: 'GC vs bare kafkajs', value: gcText(worker.gc!), baseline: gcText(bare.gc!), ratio: '', target: '' },
    ];
  } finally {
    await Promise.all([kafka.destroy(), redis.destroy()]);
  }
}

/** Runs one phase in a fresh Node process (same loader flags, so it works from dist/ and under tsx). */
function inChild(mode: ChildMode, args: ChildArgs): Promise<DrainResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--kafka-bench-child', mode, JSON.stringify(args)], {
      // Same heap cap as the container image (Dockerfile NODE_OPTIONS) for both the worker and the baseline.
      env: { ...process.env, BENCH_KAFKA_SCHEMAS: String(args.schemas), NODE_OPTIONS: '--max-old-space-size=256', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: DrainResult | undefined;
    child.on('message', (m) => (result = m as DrainResult));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`kafka bench ${mode} phase exited with ${code}`))));
  });
}

/** `products` as Debezium 3.4's Postgres connector describes it: numeric(10,2) price as a precise Decimal. */
const productFields = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'string', optional: false, field: 'slug' },
  { type: 'string', optional: true, field: 'title' },
  { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '2', 'connect.decimal.precision': '10' }, field: 'price' },
  { type: 'int32', optional: true, field: 'category_id' },
];
const optionalInt64 = (field: string) => ({ type: 'int64', optional: true, field });
const ENVELOPE_SCHEMA = {
  type: 'struct',
  fields: [
    { type: 'struct', fields: productFields, optional: true, name: 'cdc.public.products.Value', field: 'before' },
    { type: 'struct', fields: productFields, optional: true, name: 'cdc.public.products.Value', field: 'after' },
    {
      type: 'struct',
      fields: [
        { type: 'string', optional: false, field: 'version' },
        { type: 'string', optional: false, field: 'connector' },
        { type: 'string', optional: false, field: 'name' },
        { type: 'int64', optional: false, field: 'ts_ms' },
        {
          type: 'string',
          optional: true,
          name: 'io.debezium.data.Enum',
          version: 1,
          parameters: { allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental' },
          default: 'false',
          field: 'snapshot',
        },
        { type: 'string', optional: false, field: 'db' },
        { type: 'string', optional: true, field: 'sequence' },
        optionalInt64('ts_us'),
        optionalInt64('ts_ns'),
        { type: 'string', optional: false, field: 'schema' },
        { type: 'string', optional: false, field: 'table' },
        optionalInt64('txId'),
        optionalInt64('lsn'),
        optionalInt64('xmin'),
      ],
      optional: false,
      name: 'io.debezium.connector.postgresql.Source',
      version: 1,
      field: 'source',
    },
    {
      type: 'struct',
      fields: [
        { type: 'string', optional: false, field: 'id' },
        { type: 'int64', optional: false, field: 'total_order' },
        { type: 'int64', optional: false, field: 'data_collection_order' },
      ],
      optional: true,
      name: 'event.block',
      version: 1,
      field: 'transaction',
    },
    { type: 'string', optional: false, field: 'op' },
    optionalInt64('ts_ms'),
    optionalInt64('ts_us'),
    optionalInt64('ts_ns'),
  ],
  optional: false,
  name: 'cdc.public.products.Envelope',
  version: 2,
};
const KEY_SCHEMA = { type: 'struct', fields: [{ type: 'int32', optional: false, field: 'id' }], optional: false, name: 'cdc.public.products.Key' };

/** A Decimal's unscaled value as Debezium writes it: big-endian two's-complement bytes, base64 (non-negative here). */
function decimalBase64(unscaled: number): string {
  let hex = unscaled.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return Buffer.from(hex, 'hex').toString('base64');
}

function debeziumUpdate(id: number, seq: number): string {
  const ts = 1_700_000_000_000 + seq;
  const row = (v: number) => ({
    id,
    slug: `p-${id}-${v}`,
    title: `Product ${id}`,
    price: SCHEMAS ? decimalBase64((10 + (v % 90)) * 100) : `${10 + (v % 90)}.00`,
    category_id: (id + v) % 50,
  });
  const payload = {
    before: row(seq),
    after: row(seq + 1),
    source: {
      version: '3.4.3.Final',
      connector: 'postgresql',
      name: 'cdc',
      ts_ms: ts,
      snapshot: 'false',
      db: 'shop',
      sequence: `["${1_000_000 + seq}","${1_000_100 + seq}"]`,
      ts_us: ts * 1000,
      ts_ns: ts * 1_000_000,
      schema: 'public',
      table: 'products',
      txId: 1000 + seq,
      lsn: 1_000_100 + seq,
      xmin: null,
    },
    transaction: null,
    op: 'u',
    ts_ms: ts + 5,
    ts_us: (ts + 5) * 1000,
    ts_ns: (ts + 5) * 1_000_000,
  };
  return JSON.stringify(SCHEMAS ? { schema: ENVELOPE_SCHEMA, payload } : payload);
}

function debeziumKey(id: number): string {
  return JSON.stringify(SCHEMAS ? { schema: KEY_SCHEMA, payload: { id } } : { id });
}

/** A positive integer from the environment, or undefined when unset. */
function positiveIntEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function kafkaClient(brokers: string[], clientId: string): Kafka {
  return new Kafka({ brokers, clientId, logLevel: logLevel.NOTHING });
}

async function produceBacklog({ brokers, events }: ChildArgs): Promise<DrainResult> {
  const producer = kafkaClient(brokers, 'bench-producer').producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  // A produce request per partition must stay under the broker's 1 MB message.max.bytes.
  const chunk = SCHEMAS ? 500 : 5000;
  const inFlight = new Set<Promise<unknown>>();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events; i += chunk) {
    const messages = [];
    for (let j = i; j < Math.min(events, i + chunk); j++) messages.push({ key: debeziumKey(j % ROWS), value: debeziumUpdate(j % ROWS, j) });
    const sent = producer.send({ topic: TOPIC, acks: -1, messages }).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= 4) await Promise.race(inFlight);
    if ((i / chunk) % (100_000 / chunk) === 100_000 / chunk - 1) progress(`kafka: produced ${i + chunk}/${events}`);
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return { events, seconds: Number(process.hrtime.bigint() - t0) / 1e9, rss: 0 };
}

/** The baseline consumer; `parse` adds JSON.parse of every value (a reference point, not the target's baseline). */
async function drainBare({ brokers, events }: ChildArgs, parse = false): Promise<DrainResult> {
  const groupId = parse ? 'bench-bare-parse' : 'bench-bare';
  const consumer = kafkaClient(brokers, groupId).consumer({ groupId, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const rss = new PeakRss();
  let gc: GcMeter | undefined;
  let cpu: CpuMeter | undefined;
  let count = 0;
  let t0 = 0n;
  let t1 = 0n;
  const ticker = setInterval(() => progress(`kafka: ${groupId} consumed ${count}/${events}`), 5000);
  await new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: async ({ batch }) => {
        if (t0 === 0n) {
          t0 = process.hrtime.bigint();
          gc = new GcMeter();
          cpu = new CpuMeter();
        }
        if (parse) for (const m of batch.messages) if (m.value) JSON.parse(m.value.toString('utf8'));
        count += batch.messages.length;
        if (count >= events && t1 === 0n) {
          t1 = process.hrtime.bigint();
          resolve();
        }
      },
    });
  });
  clearInterval(ticker);
  const cpuMs = cpu!.stopMs();
  const gcSummary = await gc!.stop();
  const peak = rss.stop();
  await consumer.disconnect();
  return { events: count, seconds: Number(t1 - t0) / 1e9, rss: peak, cpuMs, gc: gcSummary };
}

async function drainWorker({ brokers, events, redisUrl }: ChildArgs, instrumented = false): Promise<DrainResult> {
  const client = new Redis(redisUrl!, { lazyConnect: true });
  const kafkaSource = createKafkaSource({ brokers, groupId: instrumented ? 'bench-worker-stages' : 'bench-worker', topics: [TOPIC], topicPrefix: 'cdc', maxBufferedEvents: positiveIntEnv('BENCH_KAFKA_MAX_BUFFERED_EVENTS') });
  const clock = instrumented ? new StageClock() : undefined;
  if (clock) clock.timeMethod(DebeziumDecoder.prototype, 'decode', 'decode');
  if (clock) timeCoalescing(clock);
  const profile = new PartProfile(instrumented ? '' : 'kafka-worker');
  if (!instrumented) await profile.ready();
  let gc: GcMeter | undefined;
  let cpu: CpuMeter | undefined;
  let t0 = 0n;
  // Notes when the first record reached the pipeline (the clock starts there, as for the baseline).
  const source: ChangeSource = {
    name: kafkaSource.name,
    get status() {
      return kafkaSource.status;
    },
    start: () => kafkaSource.start(),
    stop: () => kafkaSource.stop(),
    read: async (max) => {
      const batch = await kafkaSource.read(max);
      if (batch && t0 === 0n) {
        t0 = process.hrtime.bigint();
        gc = new GcMeter();
        cpu = new CpuMeter();
      }
      return batch;
    },
  };
  const pipeline = benchPipeline(source, client, { clock });
  const rss = new PeakRss();
  let applied = 0;
  let t1 = 0n;
  const done = new Promise<void>((resolve) => {
    pipeline.onApplied(({ batch }) => {
      applied += batch.eventCount;
      if (applied >= events && t1 === 0n) {
        t1 = process.hrtime.bigint();
        resolve();
      }
    });
  });
  const ticker = setInterval(() => progress(`kafka: worker applied ${applied}/${events}`), 5000);
  await pipeline.start();
  await done;
  clearInterval(ticker);
  const cpuMs = cpu!.stopMs();
  const gcSummary = await gc!.stop();
  const peak = rss.stop();
  if (!instrumented) await profile.stop();
  await pipeline.stop();
  client.disconnect();
  return { events: applied, seconds: Number(t1 - t0) / 1e9, rss: peak, cpuMs, gc: gcSummary, stages: clock?.perRow(applied, STAGES) };
}

if (require.main === module && process.argv[2] === '--kafka-bench-child') {
  const mode = process.argv[3] as ChildMode;
  const args = JSON.parse(process.argv[4]) as ChildArgs;
  const phases: Record<ChildMode, (a: ChildArgs) => Promise<DrainResult>> = {
    produce: produceBacklog,
    bare: (a) => drainBare(a),
    'bare-parse': (a) => drainBare(a, true),
    worker: (a) => drainWorker(a),
    'worker-stages': (a) => drainWorker(a, true),
  };
  phases[mode](args).then(
    (result) => process.send!(result, () => process.exit(0)),
    (err: unknown) => {
      process.stderr.write(`kafka bench ${mode} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
