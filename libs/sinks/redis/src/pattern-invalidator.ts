import Redis from 'ioredis';
import { childLogger } from '@cdc/core';
import { RedisCommandRunner, settleAll, sumReplies } from './redis-command-runner';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { multiKeyCommands } from './slot-grouping';

const log = childLogger('redis-sink');

export interface PatternInvalidatorOptions {
  readonly scanCount: number;
  readonly chunkSize: number;
  /** Keys deleted per pattern per batch before the scan stops (and counts a truncation). */
  readonly maxPatternKeys: number;
}

export interface PatternResult {
  readonly unlinked: number;
  readonly matched: number;
  readonly truncated: boolean;
}

/**
 * Deletes keys matching a Redis glob pattern: SCAN MATCH on every master (a Cluster
 * spreads keys over masters; SCAN on one node sees only its own), UNLINK each page as it
 * comes so memory stays at one page per master. Glob characters that came from row
 * values are already escaped by the rules (`product:\*` matches only `product:*`).
 */
export class PatternInvalidator {
  constructor(
    private readonly runner: RedisCommandRunner,
    private readonly options: PatternInvalidatorOptions,
  ) {}

  async invalidate(pattern: string): Promise<PatternResult> {
    const budget = { matched: 0, unlinked: 0, truncated: false };
    await settleAll(this.runner.masters().map((node) => this.scanNode(node, pattern, budget)));
    if (budget.truncated) {
      redisMetrics.patternScanTruncated.inc();
      log.warn(
        { pattern, maxPatternKeys: this.options.maxPatternKeys, unlinked: budget.unlinked },
        'pattern matched more keys than maxPatternKeys; stopped, remaining matches stay cached',
      );
    }
    return budget;
  }

  private async scanNode(node: Redis, pattern: string, budget: { matched: number; unlinked: number; truncated: boolean }): Promise<void> {
    const { scanCount, chunkSize, maxPatternKeys } = this.options;
    let cursor = '0';
    do {
      let page: [string, string[]];
      try {
        redisMetrics.commands.inc({ command: 'scan' });
        page = await node.scan(cursor, 'MATCH', pattern, 'COUNT', scanCount);
      } catch (err) {
        throw toRedisSinkError(err, `scanning for pattern ${pattern}`);
      }
      if (budget.truncated) return; // another master used up the budget meanwhile
      cursor = page[0];
      const room = maxPatternKeys - budget.matched;
      const keys = page[1].length > room ? page[1].slice(0, room) : page[1];
      budget.matched += keys.length;
      if (keys.length < page[1].length || (budget.matched >= maxPatternKeys && cursor !== '0')) budget.truncated = true;
      if (keys.length > 0) {
        const replies = await this.runner.run(multiKeyCommands('unlink', keys, chunkSize, this.runner.slotOf), `unlinking keys matching ${pattern}`);
        const unlinked = sumReplies(replies);
        redisMetrics.keysUnlinked.inc(unlinked);
        budget.unlinked += unlinked;
      }
    } while (cursor !== '0' && !budget.truncated);
  }
}
