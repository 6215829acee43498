import { ChangeEvent, ChangeSource, Logger, SourceBatch, SourceStatus, TransientError, backoffDelay, childLogger, errorMessage, sleep } from '@cdc/core';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { DebeziumDecoder } from './debezium-decoder';
import { createKafkaClient } from './kafka-client';
import { KafkaDeadLetterSink, PoisonRecord } from './kafka-dead-letter-sink';
import { kafkaMetrics as m } from './kafka-metrics';
import { KafkaSourceOptions } from './kafka-source-options';
import { PartitionProgress } from './partition-progress';
import { EventCounts } from './event-counts';
import { Segment, SegmentBuffer } from './segment-buffer';
import { addedTopics, selectTopics } from './topic-subscription';

/** Records decoded per unit of work; keeps a huge fetch from holding the buffer hostage. */
const MAX_SEGMENT_RECORDS = 1000;

/**
 * Debezium change events from Kafka, as a ChangeSource.
 *
 * kafkajs `eachBatch` decodes records into segments and puts them in a bounded buffer;
 * `read()` hands them out in arrival order (per-partition order is kept); `ack()` completes
 * them in each partition's checkpoint tracker, and the highest contiguous completed offset
 * + 1 is committed. Nothing is committed before the pipeline acked it. When the buffer is
 * full, fetching pauses (consumer.pause) and eachBatch waits with heartbeats.
 *
 * Rebalances: kafkajs restarts every assigned partition from its committed offset after a
 * rejoin, so on each new assignment all progress of the previous one is dropped (buffered
 * events discarded, late acks ignored and counted); offsets confirmed so far are committed
 * as soon as they are confirmed and flushed again when a rebalance starts.
 *
 * Topics: kafkajs resolves a subscription once. The source subscribes to the listed (or
 * matching) topics that exist, checks the topic list every `topicRefreshMs`, and when a new
 * one appears restarts its consumer with it (committed work stays committed, the rest is
 * re-delivered, as after a rebalance). With no topic yet, it waits for one.
 */
export class KafkaSource implements ChangeSource {
  readonly name: string;
  private statusValue: SourceStatus = 'idle';
  private readonly log: Logger;
  private readonly kafka: Kafka;
  private readonly decoder: DebeziumDecoder;
  private readonly dlq: KafkaDeadLetterSink;
  private readonly maxBuffered: number;
  private consumer?: Consumer;
  private readonly buffer = new SegmentBuffer();
  private progress = new Map<string, PartitionProgress>();
  private assignment: Record<string, number[]> = {};
  private paused = false;
  /** Room taken by segments being decoded (not yet in the buffer). */
  private reserved = 0;
  private pausedTopics: Array<{ topic: string }> = [];
  private stopping = false;
  private stopped?: Promise<void>;
  /** Parts handed out and not yet acked (for a clean stop). */
  private unackedParts = 0;
  private readers: Array<() => void> = [];
  private spaceWaiters: Array<() => void> = [];
  private commitLoop?: Promise<void>;
  private commitAgain = false;
  private started = false;
  /** The topics the current consumer subscribed to. */
  private subscribed: string[] = [];
  /** Topics that existed when the source started; `fromBeginning` applies to them only. */
  private initialTopics = new Set<string>();
  private topicTimer?: NodeJS.Timeout;
  private refreshing = false;

  constructor(private readonly options: KafkaSourceOptions) {
    if (!options.topics?.length && !options.topicPattern) throw new Error('KafkaSource needs topics or topicPattern');
    this.name = options.name ?? 'kafka';
    this.log = childLogger('kafka-source').child({ source: this.name, groupId: options.groupId });
    this.kafka = createKafkaClient(options);
    this.decoder = new DebeziumDecoder(options);
    this.dlq = new KafkaDeadLetterSink({ ...options, name: this.name }, this.kafka);
    this.maxBuffered = Math.max(1, options.maxBufferedEvents ?? 10_000);
  }

  get status(): SourceStatus {
    return this.statusValue;
  }

  /** Events buffered and not yet read (for tests and health). */
  get bufferedEvents(): number {
    return this.buffer.size;
  }

  /** The dead-letter sink on the same brokers, for the pipeline's rule errors. */
  get deadLetterSink(): KafkaDeadLetterSink {
    return this.dlq;
  }

  private setStatus(status: SourceStatus): void {
    if (this.statusValue === status) return;
    this.log.info({ from: this.statusValue, to: status }, 'kafka source status');
    this.statusValue = status;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.setStatus('connecting');
    let topics: string[];
    try {
      topics = await this.existingTopics();
    } catch (err) {
      this.setStatus('idle');
      throw new TransientError(`kafka source could not list topics (brokers ${this.options.brokers.join(',')}): ${errorMessage(err)}`, err);
    }
    this.subscribed = topics;
    this.initialTopics = new Set(topics);
    if (topics.length > 0) await this.startConsumer();
    else this.log.warn({ topics: this.options.topics, topicPattern: this.options.topicPattern?.source }, 'no topic to consume exists yet: waiting for one');
    this.started = true;
    this.topicTimer = setInterval(() => void this.refreshTopics(), this.options.topicRefreshMs ?? 10_000);
    this.topicTimer.unref();
  }

  /** The selected topics that exist now. */
  private async existingTopics(): Promise<string[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return selectTopics(await admin.listTopics(), this.options);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Subscribes to topics that appeared since the consumer started, by restarting it. */
  private async refreshTopics(): Promise<void> {
    if (this.stopping || this.refreshing) return;
    this.refreshing = true;
    try {
      const next = await this.existingTopics();
      const added = addedTopics(this.subscribed, next);
      if (added.length === 0 || this.stopping) return;
      this.log.info({ added }, 'new topics to consume: restarting the consumer to subscribe to them');
      this.subscribed = next;
      const old = this.consumer;
      // Commit what is confirmed, then void the rest: the new consumer gets it again.
      if (old) await this.flushCommits().catch(() => undefined);
      this.revokeAll();
      await this.recreate(old);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'checking for new topics failed; trying again later');
    } finally {
      this.refreshing = false;
    }
  }

  /** Voids all progress of the current consumer (buffered events dropped, late acks ignored). */
  private revokeAll(): void {
    for (const p of this.progress.values()) p.revoked = true;
    this.progress = new Map();
    this.buffer.dropWhere((p) => p.revoked);
    this.paused = false;
    this.pausedTopics = [];
    m.paused.set({ source: this.name }, 0);
    m.buffered.set({ source: this.name }, this.buffer.size);
    this.wakeSpaceWaiters();
  }

  private async startConsumer(): Promise<void> {
    const o = this.options;
    const consumer = this.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: o.heartbeatIntervalMs ?? 3000,
      maxBytesPerPartition: o.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: {
        retries: 8,
        // A crash (broker gone for long) restarts the consumer unless we are stopping.
        restartOnFailure: async (err: Error) => {
          this.log.error({ err: err.message }, 'kafka consumer crashed; restarting');
          this.setStatus('reconnecting');
          return !this.stopping;
        },
      },
    });
    this.consumer = consumer;
    // kafkajs restarts a crashed consumer only for errors it deems retriable; after anything
    // else (e.g. a broker that stayed down past the retries) it stays stopped. Recreate it.
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.stopping || e.payload.restart || this.consumer !== consumer) return;
      this.log.error({ err: errorMessage(e.payload.error) }, 'kafka consumer crashed and will not restart by itself; recreating it');
      void this.recreate(consumer);
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onAssigned(e.payload.memberAssignment));
    consumer.on(consumer.events.REBALANCING, () => {
      m.rebalances.inc({ source: this.name });
      this.setStatus('reconnecting');
      void this.flushCommits();
    });
    try {
      await consumer.connect();
      const initial = this.subscribed.filter((t) => this.initialTopics.has(t));
      // A topic created after the start holds only changes made since: read it from its
      // beginning even for a group that starts at the latest offsets (a committed offset wins anyway).
      const late = this.subscribed.filter((t) => !this.initialTopics.has(t));
      if (initial.length) await consumer.subscribe({ topics: initial, fromBeginning: o.fromBeginning ?? true });
      if (late.length) await consumer.subscribe({ topics: late, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 4,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (err) {
      // Leave the source startable again: the caller retries start() with its own backoff.
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      this.setStatus('idle');
      throw new TransientError(`kafka source could not start (brokers ${o.brokers.join(',')}): ${errorMessage(err)}`, err);
    }
  }

  /**
   * Replaces a consumer kafkajs gave up on, or one whose subscription grew; its uncommitted
   * work is re-delivered to the new one.
   */
  private async recreate(old: Consumer | undefined): Promise<void> {
    this.setStatus('reconnecting');
    this.consumer = undefined;
    await old?.disconnect().catch(() => undefined);
    m.consumerRestarts.inc({ source: this.name });
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.startConsumer();
        // stop() may have run meanwhile and found no consumer to close: close this one.
        if (this.stopping) await (this.consumer as Consumer | undefined)?.disconnect().catch(() => undefined);
        return;
      } catch (err) {
        this.log.warn({ err: errorMessage(err), attempt }, 'recreating the kafka consumer failed; retrying');
        await sleep(backoffDelay(attempt, 500, 10_000));
      }
    }
  }

  /** A new generation: everything of the previous assignment is void (kafkajs re-fetches from committed offsets). */
  private onAssigned(memberAssignment: Record<string, number[]>): void {
    for (const p of this.progress.values()) p.revoked = true;
    this.progress = new Map();
    const dropped = this.buffer.dropWhere((p) => p.revoked);
    this.assignment = memberAssignment;
    this.log.info({ assignment: memberAssignment, droppedBufferedEvents: dropped }, 'partitions assigned');
    // kafkajs keeps a topic paused across assignments; the buffer was just emptied, so resume.
    if (this.paused && this.consumer && this.pausedTopics.length > 0) this.consumer.resume(this.pausedTopics);
    this.paused = false;
    this.pausedTopics = [];
    m.paused.set({ source: this.name }, 0);
    m.buffered.set({ source: this.name }, this.buffer.size);
    this.wakeSpaceWaiters();
    if (!this.stopping) this.setStatus('streaming');
  }

  private progressFor(topic: string, partition: number): PartitionProgress {
    const key = `${topic}/${partition}`;
    let p = this.progress.get(key);
    if (!p) {
      p = new PartitionProgress(topic, partition);
      this.progress.set(key, p);
    }
    return p;
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const progress = this.progressFor(batch.topic, batch.partition);
    progress.highWatermark = batch.highWatermark;
    if (progress.startOffset === undefined) progress.startOffset = batch.firstOffset() ?? undefined;
    const messages = batch.messages;
    const chunk = Math.min(MAX_SEGMENT_RECORDS, this.maxBuffered);
    for (let start = 0; start < messages.length; start += chunk) {
      if (!isRunning() || isStale() || this.stopping || progress.revoked) return;
      const records = messages.slice(start, start + chunk);
      // Reserves the room (synchronously with the check) so that concurrent partitions cannot overfill.
      await this.waitForSpace(records.length, progress, heartbeat);
      try {
        if (!isRunning() || isStale() || this.stopping || progress.revoked) return;
        await this.enqueue(batch.topic, batch.partition, records, progress);
      } finally {
        this.reserved -= records.length;
      }
      resolveOffset(records[records.length - 1].offset);
    }
    this.updateLag(progress);
  }

  /** Decodes records into one segment; poison goes to the dead-letter topic before anything is confirmed. */
  private async enqueue(topic: string, partition: number, records: readonly KafkaMessage[], progress: PartitionProgress): Promise<void> {
    const events: ChangeEvent[] = [];
    const poison: PoisonRecord[] = [];
    const counts = new EventCounts();
    for (const r of records) {
      const result = this.decoder.decode({ topic, partition, offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp });
      if (result.kind === 'event') {
        events.push(result.event);
        counts.add(result.event);
      } else if (result.kind === 'skip') {
        m.skipped.inc({ source: this.name, reason: result.reason });
      } else {
        poison.push({ topic, partition, offset: r.offset, key: r.key, value: r.value, reason: result.reason });
      }
    }
    if (poison.length > 0) {
      for (const p of poison) this.log.warn({ topic, partition, offset: p.offset, reason: p.reason }, 'poison record sent to the dead-letter topic');
      await this.dlq.publishRecords(poison);
      m.deadLetters.inc({ source: this.name }, poison.length);
    }
    counts.flush(this.name);
    const segment = new Segment(progress, progress.track(records[records.length - 1].offset), events);
    if (events.length === 0) {
      // Tombstones, heartbeats and dead letters only: done as soon as everything before it is.
      this.completeSegment(segment);
      return;
    }
    this.buffer.push(segment);
    m.buffered.set({ source: this.name }, this.buffer.size);
    const readers = this.readers;
    this.readers = [];
    for (const wake of readers) wake();
  }

  /**
   * Backpressure: while the buffer cannot take `n` more events, pause fetching and keep the
   * session alive. Returns having reserved room for `n`; the caller releases it.
   */
  private async waitForSpace(n: number, progress: PartitionProgress, heartbeat: () => Promise<void>): Promise<void> {
    for (;;) {
      const used = this.buffer.size + this.reserved;
      if (used === 0 || used + n <= this.maxBuffered || this.stopping || progress.revoked) {
        this.reserved += n;
        return;
      }
      this.pauseInput();
      const heartbeatMs = this.options.heartbeatIntervalMs ?? 3000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, heartbeatMs);
        this.spaceWaiters.push(done);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
      });
      // Throws when the group rebalances: kafkajs then rejoins and re-fetches from committed offsets.
      await heartbeat();
    }
  }

  private pauseInput(): void {
    if (this.paused || !this.consumer) return;
    this.paused = true;
    m.paused.set({ source: this.name }, 1);
    this.pausedTopics = Object.keys(this.assignment).map((topic) => ({ topic }));
    if (this.pausedTopics.length > 0) this.consumer.pause(this.pausedTopics);
  }

  private maybeResume(): void {
    if (this.buffer.size * 2 > this.maxBuffered) return;
    this.wakeSpaceWaiters();
    if (!this.paused || !this.consumer) return;
    this.paused = false;
    m.paused.set({ source: this.name }, 0);
    if (this.pausedTopics.length > 0) this.consumer.resume(this.pausedTopics);
    this.pausedTopics = [];
  }

  private wakeSpaceWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  async read(maxEvents: number): Promise<SourceBatch | null> {
    while (this.buffer.size === 0) {
      if (this.stopping) return null;
      await new Promise<void>((resolve) => this.readers.push(resolve));
    }
    if (this.stopping) return null;
    const { events, parts } = this.buffer.take(Math.max(1, maxEvents));
    this.unackedParts += parts.length;
    m.buffered.set({ source: this.name }, this.buffer.size);
    this.maybeResume();
    let acked = false;
    return {
      events,
      ack: () => {
        if (acked) return;
        acked = true;
        this.unackedParts -= parts.length;
        for (const seg of parts) {
          if (seg.progress.revoked) {
            m.lateAcks.inc({ source: this.name });
            continue;
          }
          if (seg.ackPart()) this.completeSegment(seg);
        }
        if (this.stopping && this.unackedParts === 0) this.wakeSpaceWaiters();
      },
    };
  }

  private completeSegment(segment: Segment): void {
    if (segment.progress.complete(segment.ticket) !== undefined) void this.flushCommits();
  }

  /** Commits every partition whose confirmed offset advanced; one commit request in flight at a time. */
  private flushCommits(): Promise<void> {
    if (this.commitLoop) {
      this.commitAgain = true;
      return this.commitLoop;
    }
    this.commitLoop = (async () => {
      do {
        this.commitAgain = false;
        const due = [...this.progress.values()].filter((p) => !p.revoked && p.pendingCommit !== undefined && p.pendingCommit !== p.committed);
        if (due.length === 0 || !this.consumer) break;
        const offsets = due.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.pendingCommit! }));
        try {
          await this.consumer.commitOffsets(offsets);
          for (let i = 0; i < due.length; i++) {
            due[i].committed = offsets[i].offset;
            this.updateLag(due[i]);
          }
          m.commits.inc({ source: this.name, result: 'ok' });
        } catch (err) {
          // Not fatal: the offsets stay pending and go with the next commit; at worst the next owner re-delivers.
          m.commits.inc({ source: this.name, result: 'error' });
          this.log.warn({ err: errorMessage(err), offsets }, 'offset commit failed');
          if (this.stopping) break;
          await sleep(200);
          this.commitAgain = true;
        }
      } while (this.commitAgain);
    })().finally(() => {
      this.commitLoop = undefined;
    });
    return this.commitLoop;
  }

  private updateLag(p: PartitionProgress): void {
    const lag = p.lag();
    if (lag !== undefined) m.lag.set({ topic: p.topic, partition: String(p.partition) }, lag);
  }

  /**
   * Stops handing out events, waits (up to stopTimeoutMs) for handed-out batches to be
   * acked, commits what they confirmed, and leaves the group so partitions move at once.
   */
  stop(): Promise<void> {
    if (!this.stopped) this.stopped = this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.topicTimer);
    const readers = this.readers;
    this.readers = [];
    for (const wake of readers) wake();
    this.wakeSpaceWaiters();
    const deadline = Date.now() + (this.options.stopTimeoutMs ?? 10_000);
    while (this.unackedParts > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.spaceWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.unackedParts > 0) this.log.warn({ unacked: this.unackedParts }, 'stopping with unacked batches; they will be re-delivered');
    await this.flushCommits().catch(() => undefined);
    try {
      await this.consumer?.disconnect();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'leaving the consumer group failed');
    }
    await this.dlq.stop();
    this.setStatus('closed');
  }
}
