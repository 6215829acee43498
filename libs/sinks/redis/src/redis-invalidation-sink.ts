import { InvalidationBatch, InvalidationSink, RejectedAction, SinkApplyResult, childLogger, errorMessage } from '@cdc/core';
import { DEFAULT_TAG_PREFIX } from '@cdc/protocol';
import { RedisClient, connectRedis } from './redis-client';
import { positiveInt } from './redis-config';
import { RedisCommandRunner, settleAll, sharedRunner } from './redis-command-runner';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { PatternInvalidator } from './pattern-invalidator';
import { unlinkCommands } from './slot-grouping';
import { TagInvalidator, TagMembersReadHook, TagStepHook } from './tag-invalidator';

export interface RedisInvalidationSinkOptions {
  /** Standalone, Sentinel or Cluster client (see createRedisClient). Not closed by the sink: the owner closes it. */
  readonly client: RedisClient;
  /** A tag T is the SET `${tagPrefix}${T}` of the keys carrying it. Default DEFAULT_TAG_PREFIX ('cdc:tag:'). */
  readonly tagPrefix?: string;
  /** COUNT hint for SCAN, and members per page of a tag. Default 1000. */
  readonly scanCount?: number;
  /** Keys deleted per pattern per batch before stopping (metric + warning). Default 100000. */
  readonly maxPatternKeys?: number;
  /** Keys per UNLINK (each with its lease) / members per SREM. Default 1000. */
  readonly chunkSize?: number;
  /**
   * Also delete the protocol-1 lease key (leaseKeyOf from @cdc/protocol) of every key, tag
   * member and pattern match, in the same command as the key (UNLINK_WITH_LEASES). Only
   * cache-client 0.1 readers keep their lease in a separate key; from 0.2 on the lease lives in
   * the value key and the plain UNLINK revokes it. Turn on while 0.1 readers are still
   * running (a rolling upgrade). Default false.
   */
  readonly deleteLeases?: boolean;
  /** Test and diagnostics hook: runs between taking a page of a tag's members and deleting them. */
  readonly onTagMembersRead?: TagMembersReadHook;
  /** Test hook: runs at every step of every page of a tag invalidation (see TagStep). */
  readonly onTagStep?: TagStepHook;
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
  private readonly deleteLeases: boolean;

  constructor(private readonly options: RedisInvalidationSinkOptions) {
    const scanCount = positiveInt(options.scanCount, 1000, 'scanCount');
    const maxPatternKeys = positiveInt(options.maxPatternKeys, 100_000, 'maxPatternKeys');
    this.chunkSize = positiveInt(options.chunkSize, 1000, 'chunkSize');
    const deleteLeases = options.deleteLeases ?? false;
    this.deleteLeases = deleteLeases;
    this.runner = sharedRunner(options.client);
    this.tags = new TagInvalidator(this.runner, {
      tagPrefix: options.tagPrefix ?? DEFAULT_TAG_PREFIX,
      scanCount,
      chunkSize: this.chunkSize,
      deleteLeases,
      onTagMembersRead: options.onTagMembersRead,
      onTagStep: options.onTagStep,
    });
    this.patterns = new PatternInvalidator(this.runner, { scanCount, chunkSize: this.chunkSize, maxPatternKeys, deleteLeases });
  }

  async start(): Promise<void> {
    await connectRedis(this.options.client);
  }

  /**
   * Resolves with the keys, tags and patterns Redis refused for good (WRONGTYPE on one
   * tag set, an ACL refusing one key, ...), each with its reason; everything else of the
   * batch was deleted. Throws only what a retry of the whole batch can cure (the
   * connection, a failover, a busy server): the pipeline retries, and re-applying is
   * harmless.
   */
  async apply(batch: InvalidationBatch): Promise<SinkApplyResult> {
    if (batch.keys.size === 0 && batch.tags.size === 0 && batch.patterns.size === 0) return { rejected: [] };
    const endTimer = redisMetrics.sinkApplySeconds.startTimer({ sink: this.name });
    const rejected: RejectedAction[] = [];
    try {
      // Keys, tags and patterns are independent: run them side by side (one round trip
      // for the common case), and let every part finish before reporting a failure.
      await settleAll([this.unlinkKeys(batch.keys, rejected), this.invalidateTags(batch.tags, rejected), this.invalidatePatterns(batch.patterns, rejected)]);
    } catch (err) {
      redisMetrics.sinkErrors.inc({ sink: this.name });
      const error = toRedisSinkError(err, 'applying a batch');
      log.warn({ err: errorMessage(error), retriable: error.retriable, position: batch.lastPosition }, 'redis invalidation failed');
      throw error;
    } finally {
      endTimer();
    }
    for (const r of rejected) redisMetrics.rejectedActions.inc({ kind: r.kind });
    if (rejected.length > 0) {
      log.warn(
        { rejected: rejected.length, first: rejected[0], position: batch.lastPosition },
        'redis refused some invalidations for good; the rest of the batch was applied',
      );
    }
    return { rejected };
  }

  async stop(): Promise<void> {
    // The client belongs to whoever created it (it may be shared with the L1 and dead-letter sinks).
  }

  private async unlinkKeys(keys: ReadonlySet<string>, rejected: RejectedAction[]): Promise<void> {
    if (keys.size === 0) return;
    const commands = unlinkCommands(keys, this.chunkSize, this.runner.slotOf, this.deleteLeases);
    const { failed } = await this.runner.unlink(commands, 'unlinking keys');
    for (const [key, reason] of failed) rejected.push({ kind: 'key', value: key, reason });
  }

  private async invalidateTags(tags: ReadonlySet<string>, rejected: RejectedAction[]): Promise<void> {
    if (tags.size === 0) return;
    const result = await this.tags.invalidate(tags);
    rejected.push(...result.rejected);
  }

  private async invalidatePatterns(patterns: ReadonlySet<string>, rejected: RejectedAction[]): Promise<void> {
    for (const pattern of patterns) {
      const result = await this.patterns.invalidate(pattern);
      if (result.failure !== undefined) rejected.push({ kind: 'pattern', value: pattern, reason: result.failure });
    }
  }
}
