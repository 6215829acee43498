import Redis from 'ioredis';
import { childLogger } from '@cdc/core';
import { isReservedKey } from '@cdc/protocol';
import { RedisCommandRunner, settleAll } from './redis-command-runner';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { unlinkCommands } from './slot-grouping';

const log = childLogger('redis-sink');

export interface PatternInvalidatorOptions {
  readonly scanCount: number;
  readonly chunkSize: number;
  /** Keys deleted per pattern per batch before the scan stops (and counts a truncation). */
  readonly maxPatternKeys: number;
  /** Delete each matched key's lease key in the same UNLINK. */
  readonly deleteLeases: boolean;
}

export interface PatternResult {
  readonly unlinked: number;
  readonly matched: number;
  readonly truncated: boolean;
  /** Matches under RESERVED_PREFIX left in place. */
  readonly skippedReserved: number;
  /** Why the pattern was not fully applied, when Redis refused a command for good (not retriable). */
  readonly failure?: string;
}

interface PatternProgress {
  matched: number;
  unlinked: number;
  truncated: boolean;
  skippedReserved: number;
  failure?: string;
}

/**
 * Deletes keys matching a Redis glob pattern: SCAN MATCH on every master (a Cluster
 * spreads keys over masters; SCAN on one node sees only its own), UNLINK each page as it
 * comes so memory stays at one page per master. Glob characters that came from row
 * values are already escaped by the rules (`product:\*` matches only `product:*`).
 *
 * Keys under RESERVED_PREFIX (tag sets, leases, dead letters, the CDN outbox, cursors)
 * are skipped whoever asked for the pattern (a rule, a logical message, the admin API):
 * this is the last line of defence for the worker's own state, so it sits here, where
 * every pattern delete passes, and not in each caller. A refusal that no retry cures
 * (NOPERM on a key, a SCAN refused) is confined to the pattern and reported in `failure`.
 */
export class PatternInvalidator {
  constructor(
    private readonly runner: RedisCommandRunner,
    private readonly options: PatternInvalidatorOptions,
  ) {}

  async invalidate(pattern: string): Promise<PatternResult> {
    const progress: PatternProgress = { matched: 0, unlinked: 0, truncated: false, skippedReserved: 0 };
    await settleAll(this.runner.masters().map((node) => this.scanNode(node, pattern, progress)));
    if (progress.skippedReserved > 0) redisMetrics.patternReservedSkipped.inc(progress.skippedReserved);
    if (progress.truncated) {
      redisMetrics.patternScanTruncated.inc();
      log.warn(
        { pattern, maxPatternKeys: this.options.maxPatternKeys, unlinked: progress.unlinked },
        'pattern matched more keys than maxPatternKeys; stopped, remaining matches stay cached',
      );
    }
    return progress;
  }

  private async scanNode(node: Redis, pattern: string, progress: PatternProgress): Promise<void> {
    const { scanCount, chunkSize, maxPatternKeys } = this.options;
    let cursor = '0';
    do {
      let page: [string, string[]];
      try {
        redisMetrics.commands.inc({ command: 'scan' });
        page = await node.scan(cursor, 'MATCH', pattern, 'COUNT', scanCount);
      } catch (err) {
        const error = toRedisSinkError(err, `scanning for pattern ${pattern}`);
        if (error.retriable) throw error;
        progress.failure ??= error.message;
        return;
      }
      if (progress.truncated) return; // another master used up the budget meanwhile
      cursor = page[0];
      const matches = page[1].filter((k) => !isReservedKey(k));
      progress.skippedReserved += page[1].length - matches.length;
      const room = maxPatternKeys - progress.matched;
      const keys = matches.length > room ? matches.slice(0, room) : matches;
      progress.matched += keys.length;
      if (keys.length < matches.length || (progress.matched >= maxPatternKeys && cursor !== '0')) progress.truncated = true;
      if (keys.length > 0) {
        const commands = unlinkCommands(keys, chunkSize, this.runner.slotOf, this.options.deleteLeases);
        const { unlinked, failed } = await this.runner.unlink(commands, `unlinking keys matching ${pattern}`);
        progress.unlinked += unlinked;
        // The other matches still go; the pattern is reported as not fully applied.
        const [failure] = failed.values();
        if (failure !== undefined) progress.failure ??= failure;
      }
    } while (cursor !== '0' && !progress.truncated);
  }
}
