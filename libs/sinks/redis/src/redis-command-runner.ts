import Redis from 'ioredis';
import { TransientError } from '@cdc/core';
import { RedisClient, isClusterClient } from './redis-client';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { SlotCommand, SlotOf, chunk, clusterSlotOf, singleSlotOf } from './slot-grouping';

/** Commands per pipeline: large enough to amortise round trips, small enough to bound one write. */
const DEFAULT_MAX_PIPELINE_COMMANDS = 512;

/**
 * The only place the sinks talk to Redis in bulk. Hides standalone vs Cluster behind
 * one call: commands are pipelined, and in Cluster mode grouped so that one pipeline
 * only holds slots served by the same node (ioredis requires it), the node pipelines
 * running in parallel. Standalone and Sentinel take the same path with one group.
 */
export class RedisCommandRunner {
  readonly slotOf: SlotOf;

  constructor(
    readonly client: RedisClient,
    private readonly maxPipelineCommands = DEFAULT_MAX_PIPELINE_COMMANDS,
  ) {
    this.slotOf = isClusterClient(client) ? clusterSlotOf : singleSlotOf;
  }

  /**
   * Sends the commands and returns their replies in the same order. All pipelines are
   * awaited before an error is thrown, so a retry never overlaps a half-sent batch.
   * Throws a TransientError (connection) or a non-retriable CdcError (anything else).
   */
  async run(commands: readonly SlotCommand[], what: string): Promise<unknown[]> {
    if (commands.length === 0) return [];
    countCommands(commands);
    const replies = new Array<unknown>(commands.length);
    const groups = this.groupByNode(commands);
    try {
      await settleAll(groups.flatMap((indexes) => chunk(indexes, this.maxPipelineCommands)).map((indexes) => this.exec(commands, indexes, replies)));
    } catch (err) {
      throw toRedisSinkError(err, what);
    }
    return replies;
  }

  /**
   * The connections to scan: every master in Cluster, the client itself otherwise.
   * Throws a TransientError when a Cluster knows no master yet: scanning nothing would
   * report a pattern as done when it was not.
   */
  masters(): Redis[] {
    if (!isClusterClient(this.client)) return [this.client];
    const masters = this.client.nodes('master');
    if (masters.length === 0) throw new TransientError('redis cluster topology unknown (no master known yet)', undefined, 'REDIS_UNAVAILABLE');
    return masters;
  }

  /** Indexes of commands grouped by the node set that serves their slot. */
  private groupByNode(commands: readonly SlotCommand[]): number[][] {
    if (!isClusterClient(this.client)) return [commands.map((_, i) => i)];
    const slots = this.client.slots;
    const groups = new Map<string, number[]>();
    commands.forEach((command, i) => {
      // Same grouping ioredis applies when it checks a pipeline; unknown topology → one group per slot.
      const owner = slots[command.slot]?.join(';') ?? `slot:${command.slot}`;
      let group = groups.get(owner);
      if (!group) groups.set(owner, (group = []));
      group.push(i);
    });
    return [...groups.values()];
  }

  private async exec(commands: readonly SlotCommand[], indexes: readonly number[], replies: unknown[]): Promise<void> {
    const pipeline = this.client.pipeline(indexes.map((i) => [commands[i].name, ...commands[i].args]));
    const results = await pipeline.exec();
    if (!results) throw new Error('Connection is closed.');
    let firstError: Error | undefined;
    results.forEach(([err, reply], j) => {
      if (err) firstError ??= err;
      else replies[indexes[j]] = reply;
    });
    if (firstError) throw firstError;
  }
}

function countCommands(commands: readonly SlotCommand[]): void {
  const counts = new Map<string, number>();
  for (const c of commands) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  for (const [command, n] of counts) redisMetrics.commands.inc({ command }, n);
}

/** Sum of integer replies (UNLINK and SREM answer how many they removed). */
export function sumReplies(replies: readonly unknown[]): number {
  let total = 0;
  for (const r of replies) total += typeof r === 'number' ? r : 0;
  return total;
}

/** Like Promise.all, but waits for every promise before rethrowing the first failure. */
export async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(promises);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
}
