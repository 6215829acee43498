import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { InvalidationBatch, InvalidationSink, childLogger, errorMessage } from '@cdc/core';
import { RedisClient, connectRedis, isClusterClient } from './redis-client';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { L1InvalidationMessage, buildL1Messages } from '@cdc/protocol';
import { positiveInt } from './redis-config';

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
}

const log = childLogger('l1-pubsub-sink');
const dynamicLabel = (): string => 'dynamic';

/**
 * The L1 sink: tells in-process caches what to evict. Runs after the Redis (L2) sink in
 * the same batch (the pipeline calls sinks in order), so an application that reloads on
 * eviction reads fresh data from L2 or the database, never the entry being deleted.
 * One JSON message per channel (split into parts when large), all PUBLISHes of a batch
 * in one pipeline on one connection, so subscribers see them in batch order.
 */
export class L1PubSubSink implements InvalidationSink {
  readonly name = 'l1-pubsub';
  private readonly maxItemsPerMessage: number;

  constructor(private readonly options: L1PubSubSinkOptions) {
    this.maxItemsPerMessage = positiveInt(options.maxItemsPerMessage, 1000, 'maxItemsPerMessage');
  }

  async start(): Promise<void> {
    await connectRedis(this.options.client);
  }

  async apply(batch: InvalidationBatch): Promise<void> {
    const messages = this.messagesFor(batch);
    if (messages.length === 0) return;
    const endTimer = redisMetrics.sinkApplySeconds.startTimer({ sink: this.name });
    try {
      const results = await this.publisher()
        .pipeline(messages.map((m) => ['publish', m.channel, JSON.stringify(m)]))
        .exec();
      if (!results) throw new Error('Connection is closed.');
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
      redisMetrics.commands.inc({ command: 'publish' }, messages.length);
      const label = this.options.channelLabel ?? dynamicLabel;
      for (const m of messages) redisMetrics.l1MessagesPublished.inc({ channel: label(m.channel) });
    } catch (err) {
      redisMetrics.sinkErrors.inc({ sink: this.name });
      const error = toRedisSinkError(err, 'publishing L1 invalidations');
      log.warn({ err: errorMessage(error), retriable: error.retriable, position: batch.lastPosition }, 'L1 publish failed');
      throw error;
    } finally {
      endTimer();
    }
  }

  async stop(): Promise<void> {
    // The client belongs to whoever created it.
  }

  /** The messages one batch produces, in channel order (exported behaviour for tests and `explain`). */
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
