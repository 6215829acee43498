import { randomBytes } from 'node:crypto';
import { ChangeEvent, ConfigError, RuleMatch, childLogger, errorMessage } from '@cdc/core';
import { Admin, Consumer } from 'kafkajs';
import { DebeziumDecoder, DebeziumDecoderOptions } from './debezium-decoder';
import { createKafkaClient } from './kafka-client';
import { KafkaConnectionOptions } from './kafka-source-options';

const log = childLogger('kafka-replay');

export interface ReplayProgress {
  /** Records read so far / records between the start and end offsets captured at start. */
  readonly records: number;
  readonly totalRecords: number;
  readonly events: number;
  readonly partitionsDone: number;
  readonly partitions: number;
}

export interface ReplayOptions extends KafkaConnectionOptions, DebeziumDecoderOptions {
  readonly topics?: readonly string[];
  readonly topicPattern?: RegExp;
  /**
   * Where to start: an ISO-8601 time (seek by timestamp), `earliest`, or an offsets spec
   * `topic:partition:offset[,topic:partition:offset...]` (partitions not named are not replayed).
   */
  readonly from: string;
  /** Stop at this ISO time (records at or after it are not replayed). Default: the end offsets at start. */
  readonly to?: string;
  /** Passed to handleBatch; handleBatch decides what not to touch. The summary is the same either way. */
  readonly dryRun?: boolean;
  /**
   * Called with decoded events, in order per partition, one call at a time. Return the rule
   * matches (the actions) to have them counted and sampled in the summary.
   */
  readonly handleBatch: (events: readonly ChangeEvent[], context: { dryRun: boolean }) => Promise<readonly RuleMatch[] | void>;
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Most events per handleBatch call. Default 1000. */
  readonly batchSize?: number;
  /** Prefix of the throwaway consumer group. Default `cdc-invalidator-replay`. */
  readonly groupIdPrefix?: string;
  /** Samples kept per action kind in the summary. Default 5. */
  readonly samples?: number;
}

export interface ReplaySummary {
  readonly groupId: string;
  readonly dryRun: boolean;
  readonly records: number;
  readonly events: number;
  readonly skipped: number;
  readonly poison: number;
  readonly poisonSamples: readonly { position: string; reason: string }[];
  readonly eventsByOp: Readonly<Record<string, number>>;
  readonly eventsByTable: Readonly<Record<string, number>>;
  /** Action counts (with duplicates) and a few distinct samples per kind. */
  readonly actions: Readonly<Record<'keys' | 'tags' | 'patterns' | 'channels' | 'cdn', { count: number; samples: string[] }>>;
  /** Per `topic/partition`: [start, end) offsets replayed. */
  readonly ranges: Readonly<Record<string, { start: string; end: string }>>;
  readonly durationMs: number;
}

type Range = { topic: string; partition: number; start: bigint; end: bigint };

/**
 * Re-reads a time or offset range of the Debezium topics and hands the events to
 * `handleBatch`, under its own throwaway consumer group (the live group is not touched).
 * End offsets are captured at start, so the replay ends even while producers keep writing.
 */
export async function replayKafka(options: ReplayOptions): Promise<ReplaySummary> {
  const started = Date.now();
  const kafka = createKafkaClient(options, '-replay');
  const admin = kafka.admin();
  const groupId = `${options.groupIdPrefix ?? 'cdc-invalidator-replay'}-${new Date().toISOString().replace(/[:.]/g, '')}-${randomBytes(3).toString('hex')}`;
  const dryRun = options.dryRun ?? false;
  await admin.connect();
  let consumer: Consumer | undefined;
  try {
    const topics = await resolveTopics(admin, options);
    const ranges = await captureRanges(admin, topics, options.from, options.to);
    const pending = ranges.filter((r) => r.start < r.end);
    const totalRecords = pending.reduce((n, r) => n + Number(r.end - r.start), 0);
    const summary = new SummaryBuilder(groupId, dryRun, options.samples ?? 5);
    for (const r of ranges) summary.ranges[`${r.topic}/${r.partition}`] = { start: r.start.toString(), end: r.end.toString() };
    log.info({ groupId, topics, partitions: pending.length, totalRecords, dryRun }, 'replay starting');
    if (pending.length > 0) {
      // The new group starts exactly at the start offsets; it has no members yet, so this is allowed.
      for (const topic of new Set(pending.map((r) => r.topic))) {
        const partitions = pending.filter((r) => r.topic === topic).map((r) => ({ partition: r.partition, offset: r.start.toString() }));
        await admin.setOffsets({ groupId, topic, partitions });
      }
      consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
      await consumer.connect();
      await consumer.subscribe({ topics: [...new Set(pending.map((r) => r.topic))], fromBeginning: true });
      await runUntilEnd(consumer, pending, totalRecords, options, summary);
    }
    const result = summary.build(Date.now() - started);
    log.info({ groupId, records: result.records, events: result.events, poison: result.poison, durationMs: result.durationMs }, 'replay done');
    return result;
  } finally {
    await consumer?.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

async function resolveTopics(admin: Admin, options: ReplayOptions): Promise<string[]> {
  if (options.topics?.length) return [...options.topics];
  if (!options.topicPattern) throw new ConfigError('replay needs topics or a topic pattern');
  const pattern = options.topicPattern;
  return (await admin.listTopics()).filter((t) => pattern.test(t)).sort();
}

/** Start and end offsets per partition, captured once before reading. */
async function captureRanges(admin: Admin, topics: readonly string[], from: string, to: string | undefined): Promise<Range[]> {
  const spec = parseFrom(from);
  const toMs = to === undefined ? undefined : parseTime(to, 'to');
  const ranges: Range[] = [];
  for (const topic of topics) {
    const watermarks = await admin.fetchTopicOffsets(topic);
    const startByTime = spec.kind === 'time' ? await admin.fetchTopicOffsetsByTimestamp(topic, spec.ms) : undefined;
    const endByTime = toMs !== undefined ? await admin.fetchTopicOffsetsByTimestamp(topic, toMs) : undefined;
    for (const w of watermarks) {
      const low = BigInt(w.low);
      const high = BigInt(w.high);
      let start: bigint | undefined;
      if (spec.kind === 'earliest') start = low;
      else if (spec.kind === 'time') start = offsetOrHigh(startByTime!.find((o) => o.partition === w.partition)?.offset, high);
      else {
        const named = spec.offsets.get(`${topic}/${w.partition}`);
        start = named === undefined ? undefined : named < low ? low : named;
      }
      if (start === undefined) continue;
      let end = high;
      if (endByTime) end = offsetOrHigh(endByTime.find((o) => o.partition === w.partition)?.offset, high);
      ranges.push({ topic, partition: w.partition, start, end: end < high ? end : high });
    }
  }
  return ranges;
}

/** The broker answers -1 when no record is at or after the timestamp: that is the end. */
function offsetOrHigh(offset: string | undefined, high: bigint): bigint {
  if (offset === undefined) return high;
  const v = BigInt(offset);
  return v < 0n ? high : v;
}

type FromSpec = { kind: 'earliest' } | { kind: 'time'; ms: number } | { kind: 'offsets'; offsets: Map<string, bigint> };

export function parseFrom(from: string): FromSpec {
  const text = from.trim();
  if (text === 'earliest') return { kind: 'earliest' };
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return { kind: 'time', ms: parseTime(text, 'from') };
  const offsets = new Map<string, bigint>();
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(.+):(\d+):(\d+)$/.exec(entry);
    if (!m) throw new ConfigError(`replay --from: "${entry}" is not an ISO time, "earliest" or topic:partition:offset`);
    offsets.set(`${m[1]}/${m[2]}`, BigInt(m[3]));
  }
  if (offsets.size === 0) throw new ConfigError('replay --from is empty');
  return { kind: 'offsets', offsets };
}

function parseTime(text: string, what: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new ConfigError(`replay --${what}: "${text}" is not an ISO-8601 time`);
  return ms;
}

async function runUntilEnd(consumer: Consumer, ranges: readonly Range[], totalRecords: number, options: ReplayOptions, summary: SummaryBuilder): Promise<void> {
  const decoder = new DebeziumDecoder(options);
  const endByKey = new Map(ranges.map((r) => [`${r.topic}/${r.partition}`, r.end]));
  const done = new Set<string>();
  const batchSize = options.batchSize ?? 1000;
  const dryRun = options.dryRun ?? false;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const progress = (): void =>
    options.onProgress?.({ records: summary.records, totalRecords, events: summary.events, partitionsDone: done.size, partitions: ranges.length });

  consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
      const key = `${batch.topic}/${batch.partition}`;
      const end = endByKey.get(key);
      if (end === undefined || done.has(key)) return;
      let events: ChangeEvent[] = [];
      const flush = async (): Promise<void> => {
        if (events.length === 0) return;
        const matches = await options.handleBatch(events, { dryRun });
        if (matches) summary.addMatches(matches);
        events = [];
        await heartbeat();
      };
      try {
        for (const message of batch.messages) {
          if (!isRunning()) return;
          if (BigInt(message.offset) >= end) break;
          summary.records++;
          const result = decoder.decode({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value, timestamp: message.timestamp });
          if (result.kind === 'event') {
            summary.addEvent(result.event);
            events.push(result.event);
            if (events.length >= batchSize) await flush();
          } else if (result.kind === 'skip') summary.skipped++;
          else summary.addPoison(`${key}/${message.offset}`, result.reason);
          resolveOffset(message.offset);
        }
        await flush();
      } catch (err) {
        log.error({ err: errorMessage(err), partition: key }, 'replay handler failed');
        fail(err);
        return;
      }
      const last = batch.messages[batch.messages.length - 1];
      if (last && BigInt(last.offset) + 1n >= end) done.add(key);
      progress();
      if (done.size === ranges.length) finish();
    },
  });
  await finished;
}

class SummaryBuilder {
  records = 0;
  events = 0;
  skipped = 0;
  poison = 0;
  readonly ranges: Record<string, { start: string; end: string }> = {};
  private readonly poisonSamples: { position: string; reason: string }[] = [];
  private readonly byOp: Record<string, number> = {};
  private readonly byTable: Record<string, number> = {};
  private readonly actions = {
    keys: { count: 0, samples: new Set<string>() },
    tags: { count: 0, samples: new Set<string>() },
    patterns: { count: 0, samples: new Set<string>() },
    channels: { count: 0, samples: new Set<string>() },
    cdn: { count: 0, samples: new Set<string>() },
  };

  constructor(
    private readonly groupId: string,
    private readonly dryRun: boolean,
    private readonly sampleCount: number,
  ) {}

  addEvent(e: ChangeEvent): void {
    this.events++;
    this.byOp[e.op] = (this.byOp[e.op] ?? 0) + 1;
    const table = e.op === 'message' ? '(message)' : `${e.schema}.${e.table}`;
    this.byTable[table] = (this.byTable[table] ?? 0) + 1;
  }

  addPoison(position: string, reason: string): void {
    this.poison++;
    if (this.poisonSamples.length < this.sampleCount) this.poisonSamples.push({ position, reason });
  }

  addMatches(matches: readonly RuleMatch[]): void {
    for (const match of matches) {
      this.count('keys', match.keys);
      this.count('tags', match.tags);
      this.count('patterns', match.patterns);
      this.count('channels', match.channels);
      this.count('cdn', match.cdn.map((c) => `${c.provider}:${c.target}:${c.kind}:${c.value}`));
    }
  }

  private count(kind: keyof SummaryBuilder['actions'], values: readonly string[]): void {
    const a = this.actions[kind];
    a.count += values.length;
    for (const v of values) {
      if (a.samples.size >= this.sampleCount) break;
      a.samples.add(v);
    }
  }

  build(durationMs: number): ReplaySummary {
    const actions = Object.fromEntries(
      Object.entries(this.actions).map(([k, v]) => [k, { count: v.count, samples: [...v.samples] }]),
    ) as ReplaySummary['actions'];
    return {
      groupId: this.groupId,
      dryRun: this.dryRun,
      records: this.records,
      events: this.events,
      skipped: this.skipped,
      poison: this.poison,
      poisonSamples: this.poisonSamples,
      eventsByOp: this.byOp,
      eventsByTable: this.byTable,
      actions,
      ranges: this.ranges,
      durationMs,
    };
  }
}
