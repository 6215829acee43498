import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { InvalidationBatch, InvalidationSink, childLogger, errorMessage } from '@cdc/core';
import { RedisClient, connectRedis, isClusterClient } from './redis-client';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { L1InvalidateMessageV2, L1InvalidationMessage, L1MessageV2, buildL1Messages, sequenced } from '@cdc/protocol';
import { positiveInt } from './redis-config';
import { sharedRunner } from './redis-command-runner';
import { L1Heartbeater } from './l1-heartbeat';
import { L1Sequencer } from './l1-sequencer';

export interface L1PubSubSinkOptions {
  /** Standalone, Sentinel or Cluster client. Not closed by the sink. */
  readonly client: RedisClient;
  /** Source name carried in every message ('postgres', 'kafka'). */
  readonly source: string;
  /** Keys + tags + patterns per message; larger payloads are split into parts. Default 1000. */
  readonly maxItemsPerMessage?: number;
  /**
   * The `channel` label of a channel's metrics. A channel templated from a row carries row
   * values (e-mail addresses, ids) that must not reach /metrics nor grow its series without
   * bound: the worker labels static channels by name and the rest `dynamic`. Default: `dynamic` for all.
   */
  readonly channelLabel?: (channel: string) => string;
  /**
   * Message version to publish. 2 (default): stream + seq on every message and heartbeats on
   * idle channels. 1: the version-1 messages, no heartbeats, for subscribers not yet upgraded.
   */
  readonly messageVersion?: 1 | 2;
  /** Version 2: a channel idle for this long gets a heartbeat. 0 turns heartbeats off. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Channels that get heartbeats from the start (e.g. the rules' static channels); read on every tick. Default none. */
  readonly channels?: () => Iterable<string>;
  /**
   * Most channels tracked for seq numbers and heartbeats (only channels rendered from row
   * values can grow past it; then a new stream starts, see L1Sequencer). Default 1000.
   */
  readonly maxChannels?: number;
}

const log = childLogger('l1-pubsub-sink');
const dynamicLabel = (): string => 'dynamic';

/**
 * The L1 sink: tells in-process caches what to evict. Runs after the Redis (L2) sink in
 * the same batch (the pipeline calls sinks in order), so an application that reloads on
 * eviction reads fresh data from L2 or the database, never the entry being deleted.
 * One JSON message per channel (split into parts when large), all PUBLISHes of a batch
 * in one pipeline on one connection, so subscribers see them in batch order.
 *
 * Version 2 numbers each message per (stream, channel) and sends heartbeats on idle
 * channels on the same connection, so a subscriber can tell it missed one
 * (docs/pubsub.md, "Detecting lost messages"). Each start() begins a new stream.
 */
export class L1PubSubSink implements InvalidationSink {
  readonly name = 'l1-pubsub';
  private readonly maxItemsPerMessage: number;
  private readonly version: 1 | 2;
  private readonly sequencer: L1Sequencer;
  private readonly heartbeater?: L1Heartbeater;

  constructor(private readonly options: L1PubSubSinkOptions) {
    this.maxItemsPerMessage = positiveInt(options.maxItemsPerMessage, 1000, 'maxItemsPerMessage');
    this.version = options.messageVersion ?? 2;
    if (this.version !== 1 && this.version !== 2) throw new RangeError(`messageVersion must be 1 or 2, got ${String(options.messageVersion)}`);
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
    if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 0) {
      throw new RangeError(`heartbeatIntervalMs must be a non-negative integer, got ${heartbeatIntervalMs}`);
    }
    this.sequencer = new L1Sequencer(positiveInt(options.maxChannels, 1000, 'maxChannels'));
    // Version-1 subscribers do not know heartbeats (the documented v1 subscriber clears its L1 on an unknown version).
    if (this.version === 2 && heartbeatIntervalMs > 0) {
      this.heartbeater = new L1Heartbeater({
        sequencer: this.sequencer,
        intervalMs: heartbeatIntervalMs,
        channels: options.channels ?? (() => []),
        publish: (messages) => this.publish(messages),
      });
    }
  }

  /** The stream id version-2 messages carry now (a new one after every start). */
  get stream(): string {
    return this.sequencer.stream;
  }

  async start(): Promise<void> {
    this.heartbeater?.stop();
    this.sequencer.restart();
    await connectRedis(this.options.client);
    this.heartbeater?.start();
  }

  async apply(batch: InvalidationBatch): Promise<void> {
    const publishedAtMs = Date.now();
    const bodies = this.messagesFor(batch, publishedAtMs);
    if (bodies.length === 0) return;
    const endTimer = redisMetrics.sinkApplySeconds.startTimer({ sink: this.name });
    // Seqs are taken and the PUBLISHes queued on the connection in one synchronous step, so
    // the wire order is the seq order; a failed publish burns its seqs (see L1Sequencer).
    const tickets: Array<{ done(): void }> = [];
    const messages: Array<L1InvalidationMessage | L1InvalidateMessageV2> =
      this.version === 1
        ? bodies
        : bodies.map((m) => {
            const ticket = this.sequencer.take(m.channel, publishedAtMs);
            tickets.push(ticket);
            return sequenced(m, this.sequencer.stream, ticket.seq); // the stream after take (it may have moved on)
          });
    try {
      await this.publish(messages);
      const label = this.options.channelLabel ?? dynamicLabel;
      for (const m of messages) redisMetrics.l1MessagesPublished.inc({ channel: label(m.channel) });
    } catch (err) {
      redisMetrics.sinkErrors.inc({ sink: this.name });
      const error = toRedisSinkError(err, 'publishing L1 invalidations');
      log.warn({ err: errorMessage(error), retriable: error.retriable, position: batch.lastPosition }, 'L1 publish failed');
      throw error;
    } finally {
      for (const t of tickets) t.done();
      endTimer();
    }
  }

  async stop(): Promise<void> {
    this.heartbeater?.stop();
    // The client belongs to whoever created it.
  }

  /**
   * The messages one batch produces, in channel order, before numbering: the version-1 form
   * (exported behaviour for tests and `explain`; apply() numbers them for version 2).
   */
  messagesFor(batch: InvalidationBatch, publishedAtMs = Date.now()): L1InvalidationMessage[] {
    const out: L1InvalidationMessage[] = [];
    for (const [channel, payload] of batch.channels) {
      const ctx = {
        id: randomUUID(),
        source: this.options.source,
        channel,
        position: batch.lastPosition,
        commitTimeMs: batch.lastCommitTimeMs,
        publishedAtMs,
      };
      out.push(...buildL1Messages(payload, ctx, this.maxItemsPerMessage));
    }
    return out;
  }

  /**
   * The PUBLISHes, in order, on the publishing connection; throws the first error. Standalone
   * and Sentinel: through the client's shared runner, so they go out in the same socket write
   * as the next batch's L2 deletes (the runner keeps call order on the connection, so the wire
   * order stays the seq order). Cluster: one pipeline to the one publishing master.
   */
  private async publish(messages: ReadonlyArray<L1InvalidationMessage | L1MessageV2>): Promise<void> {
    const client = this.options.client;
    if (!isClusterClient(client)) {
      const commands = messages.map((m) => ({ name: 'publish', args: [m.channel, JSON.stringify(m)], slot: 0 }));
      const failed = (await sharedRunner(client).runSettled(commands, 'publishing L1 invalidations')).find((o) => !o.ok);
      if (failed && !failed.ok) throw failed.error;
      return;
    }
    const results = await this.publisher()
      .pipeline(messages.map((m) => ['publish', m.channel, JSON.stringify(m)]))
      .exec();
    if (!results) throw new Error('Connection is closed.');
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    redisMetrics.commands.inc({ command: 'publish' }, messages.length);
  }

  /**
   * Where to PUBLISH. In Cluster every node forwards a PUBLISH to subscribers on all
   * nodes, but two messages sent through different nodes may overtake each other on the
   * cluster bus; always using the same master keeps them in order.
   */
  private publisher(): RedisClient | Redis {
    const client = this.options.client;
    if (!isClusterClient(client)) return client;
    const masters = client.nodes('master');
    if (masters.length === 0) return client;
    const address = (n: Redis): string => `${n.options.host}:${n.options.port}`;
    return masters.reduce((a, b) => (address(b) < address(a) ? b : a));
  }
}
