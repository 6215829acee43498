import { InvalidationBatch, InvalidationSink, childLogger, errorMessage } from '@cdc/core';
import { RedisClient, connectRedis } from './redis-client';
import { positiveInt } from './redis-config';
import { RedisCommandRunner, settleAll, sumReplies } from './redis-command-runner';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { PatternInvalidator } from './pattern-invalidator';
import { multiKeyCommands } from './slot-grouping';
import { TagInvalidator, TagMembersReadHook } from './tag-invalidator';

export interface RedisInvalidationSinkOptions {
  /** Standalone, Sentinel or Cluster client (see createRedisClient). Not closed by the sink: the owner closes it. */
  readonly client: RedisClient;
  /** A tag T is the SET `${tagPrefix}${T}` of the keys carrying it. Default 'cdc:tag:'. */
  readonly tagPrefix?: string;
  /** COUNT hint for SCAN and SSCAN. Default 1000. */
  readonly scanCount?: number;
  /** Keys deleted per pattern per batch before stopping (metric + warning). Default 100000. */
  readonly maxPatternKeys?: number;
  /** Keys per UNLINK / members per SREM. Default 1000. */
  readonly chunkSize?: number;
  /** Test and diagnostics hook: runs between reading a tag's members and deleting them. */
  readonly onTagMembersRead?: TagMembersReadHook;
}

const log = childLogger('redis-sink');

/**
 * The L2 sink: deletes the batch's keys, tagged keys and pattern matches from Redis.
 * apply() resolves once Redis has confirmed every delete; it is idempotent (UNLINK of a
 * missing key and SREM of a missing member are no-ops), so a batch re-applied after a
 * crash or retry is harmless.
 */
export class RedisInvalidationSink implements InvalidationSink {
  readonly name = 'redis';
  private readonly runner: RedisCommandRunner;
  private readonly tags: TagInvalidator;
  private readonly patterns: PatternInvalidator;
  private readonly chunkSize: number;

  constructor(private readonly options: RedisInvalidationSinkOptions) {
    const scanCount = positiveInt(options.scanCount, 1000, 'scanCount');
    const maxPatternKeys = positiveInt(options.maxPatternKeys, 100_000, 'maxPatternKeys');
    this.chunkSize = positiveInt(options.chunkSize, 1000, 'chunkSize');
    this.runner = new RedisCommandRunner(options.client);
    this.tags = new TagInvalidator(this.runner, {
      tagPrefix: options.tagPrefix ?? 'cdc:tag:',
      scanCount,
      chunkSize: this.chunkSize,
      onTagMembersRead: options.onTagMembersRead,
    });
    this.patterns = new PatternInvalidator(this.runner, { scanCount, chunkSize: this.chunkSize, maxPatternKeys });
  }

  async start(): Promise<void> {
    await connectRedis(this.options.client);
  }

  async apply(batch: InvalidationBatch): Promise<void> {
    if (batch.keys.size === 0 && batch.tags.size === 0 && batch.patterns.size === 0) return;
    const endTimer = redisMetrics.sinkApplySeconds.startTimer({ sink: this.name });
    try {
      // Keys, tags and patterns are independent: run them side by side (one round trip
      // for the common case), and let every part finish before reporting a failure.
      await settleAll([this.unlinkKeys(batch.keys), this.invalidateTags(batch.tags), this.invalidatePatterns(batch.patterns)]);
    } catch (err) {
      redisMetrics.sinkErrors.inc({ sink: this.name });
      const error = toRedisSinkError(err, 'applying a batch');
      log.warn({ err: errorMessage(error), retriable: error.retriable, position: batch.lastPosition }, 'redis invalidation failed');
      throw error;
    } finally {
      endTimer();
    }
  }

  async stop(): Promise<void> {
    // The client belongs to whoever created it (it may be shared with the L1 and dead-letter sinks).
  }

  private async unlinkKeys(keys: ReadonlySet<string>): Promise<void> {
    if (keys.size === 0) return;
    const replies = await this.runner.run(multiKeyCommands('unlink', keys, this.chunkSize, this.runner.slotOf), 'unlinking keys');
    redisMetrics.keysUnlinked.inc(sumReplies(replies));
  }

  private async invalidateTags(tags: ReadonlySet<string>): Promise<void> {
    if (tags.size === 0) return;
    await this.tags.invalidate(tags);
  }

  private async invalidatePatterns(patterns: ReadonlySet<string>): Promise<void> {
    for (const pattern of patterns) await this.patterns.invalidate(pattern);
  }
}
