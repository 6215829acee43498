import Redis from 'ioredis';
import { CdcError, TransientError } from '@cdc/core';
import { RedisClient, isClusterClient } from './redis-client';
import { isConnectionError, toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { UNLINK_WITH_LEASES } from '@cdc/protocol';
import { KeyCommand, SlotCommand, SlotOf, chunk, clusterSlotOf, singleSlotOf, splitByKey } from './slot-grouping';

export interface CommandSuccess {
  readonly ok: true;
  readonly reply: unknown;
}

export interface CommandFailure {
  readonly ok: false;
  /** A CdcError once runSettled returns (the raw reply error inside exec). */
  readonly error: Error;
}

/** What became of one command of a pipeline. */
export type CommandOutcome = CommandSuccess | CommandFailure;

export interface UnlinkOutcome {
  /** Keys removed (companions included). */
  readonly unlinked: number;
  /** Key → why Redis refused to delete it. */
  readonly failed: ReadonlyMap<string, string>;
}

/** Replies that say the key's slot is served elsewhere now. */
const REDIRECT_REPLY = /^(MOVED|ASK)\b/;

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
    defineScript(client, UNLINK_WITH_LEASES);
  }

  /**
   * Sends the commands and returns their replies in the same order. All pipelines are
   * awaited before an error is thrown, so a retry never overlaps a half-sent batch.
   * Throws a TransientError (connection) or a non-retriable CdcError (anything else).
   */
  async run(commands: readonly SlotCommand[], what: string): Promise<unknown[]> {
    const outcomes = await this.runSettled(commands, what);
    const failed = outcomes.find((o): o is CommandFailure => !o.ok);
    if (failed) throw failed.error;
    return outcomes.map((o) => (o as CommandSuccess).reply);
  }

  /**
   * Like run(), but a command the server refused for good (WRONGTYPE, NOPERM, a script
   * error, ...) comes back as its own failure and the other replies stand, so a caller
   * can confine the failure to the key, tag or pattern that command was for. Throws
   * only what a retry of the whole batch can cure: the connection, or a retriable reply
   * (LOADING, TRYAGAIN, MOVED, OOM, ...) on any command.
   */
  async runSettled(commands: readonly SlotCommand[], what: string): Promise<CommandOutcome[]> {
    if (commands.length === 0) return [];
    countCommands(commands);
    let outcomes: CommandOutcome[];
    try {
      outcomes = await this.send(commands);
    } catch (err) {
      this.noteRedirect(err);
      throw toRedisSinkError(err, what);
    }
    let retriable: CdcError | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i];
      if (o.ok) continue;
      this.noteRedirect(o.error);
      const error = toRedisSinkError(o.error, what);
      if (error.retriable) retriable ??= error;
      outcomes[i] = { ok: false, error };
    }
    if (retriable) throw retriable;
    return outcomes;
  }

  /**
   * A MOVED or ASK reply means the Cluster client's slot map is stale (a master restarted, a
   * failover, a reshard). ioredis retries a redirected pipeline itself only when every command
   * of it failed with the same redirection, and it refreshes its map on no timer by default, so
   * a pipeline spanning several moved slots would keep going to the old node: refresh the map
   * (at most once at a time) so the retry of the batch is routed by the new one.
   */
  private noteRedirect(err: unknown): void {
    if (!isClusterClient(this.client) || this.refreshing) return;
    if (!REDIRECT_REPLY.test((err as Error)?.message ?? '')) return;
    this.refreshing = true;
    redisMetrics.slotRefreshes.inc();
    this.client.refreshSlotsCache(() => {
      this.refreshing = false;
    });
  }

  private refreshing = false;

  /**
   * Runs UNLINK commands and confines a refusal (NOPERM on one key, ...) to the keys
   * that caused it: a refused multi-key command is retried one key at a time (with its
   * companions, e.g. its lease), a rare path. Returns how many keys went and the
   * reason for each key that did not. Throws like runSettled.
   */
  async unlink(commands: readonly KeyCommand[], what: string): Promise<UnlinkOutcome> {
    const outcome = { unlinked: 0, failed: new Map<string, string>() };
    const retries: KeyCommand[] = [];
    const outcomes = await this.runSettled(commands, what);
    outcomes.forEach((o, i) => {
      const command = commands[i];
      if (o.ok) outcome.unlinked += typeof o.reply === 'number' ? o.reply : 0;
      else if (command.keys.length === 1) outcome.failed.set(command.keys[0], o.error.message);
      else retries.push(...splitByKey(command));
    });
    if (retries.length > 0) {
      const single = await this.runSettled(retries, what);
      single.forEach((o, i) => {
        if (o.ok) outcome.unlinked += typeof o.reply === 'number' ? o.reply : 0;
        else outcome.failed.set(retries[i].keys[0], o.error.message);
      });
    }
    redisMetrics.keysUnlinked.inc(outcome.unlinked);
    return outcome;
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

  /**
   * Queues the commands for the next flush and resolves with their outcomes, in order.
   * Everything queued while the current run of synchronous code and promise continuations
   * lasts goes out together (process.nextTick runs once that run is over): a batch's key
   * UNLINKs and its first tag takes, started side by side, share one pipeline, one socket
   * write and one round trip instead of one each. Rejects when a pipeline holding one of
   * the commands failed as a whole (the connection); every pipeline of the flush is settled first.
   */
  private send(commands: readonly SlotCommand[]): Promise<CommandOutcome[]> {
    return new Promise((resolve, reject) => {
      this.queued.push({ commands, resolve, reject });
      if (this.queued.length === 1) process.nextTick(() => this.flush());
    });
  }

  private readonly queued: QueuedRun[] = [];

  private flush(): void {
    const runs = this.queued.splice(0);
    const all = runs.length === 1 ? runs[0].commands : runs.flatMap((r) => r.commands);
    const outcomes = new Array<CommandOutcome>(all.length);
    const pipelines = this.groupByNode(all).flatMap((indexes) => chunk(indexes, this.maxPipelineCommands));
    const sent = pipelines.map((indexes) => this.exec(all, indexes, outcomes));
    if (runs.length === 1) {
      settleAll(sent).then(() => runs[0].resolve(outcomes), runs[0].reject);
      return;
    }
    // Several runs: each waits for the pipelines that hold its commands, and gets its own outcomes.
    const runOf = new Array<number>(all.length);
    const starts: number[] = [];
    let at = 0;
    runs.forEach((r, k) => {
      starts.push(at);
      runOf.fill(k, at, (at += r.commands.length));
    });
    const waits = runs.map(() => [] as Array<Promise<void>>);
    pipelines.forEach((indexes, p) => {
      for (const k of new Set(indexes.map((i) => runOf[i]))) waits[k].push(sent[p]);
    });
    runs.forEach((r, k) => {
      settleAll(waits[k]).then(() => r.resolve(outcomes.slice(starts[k], starts[k] + r.commands.length)), r.reject);
    });
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

  private async exec(commands: readonly SlotCommand[], indexes: readonly number[], outcomes: CommandOutcome[]): Promise<void> {
    const pipeline = this.client.pipeline(indexes.map((i) => [commands[i].name, ...commands[i].args]));
    const results = await pipeline.exec();
    if (!results) throw new Error('Connection is closed.');
    // A connection error fails every command of the pipeline: throw it as the pipeline's failure.
    const lost = results.find(([err]) => err && isConnectionError(err));
    if (lost) throw lost[0];
    results.forEach(([err, reply], j) => {
      outcomes[indexes[j]] = err ? { ok: false, error: err } : { ok: true, reply };
    });
  }
}

interface QueuedRun {
  readonly commands: readonly SlotCommand[];
  resolve(outcomes: CommandOutcome[]): void;
  reject(err: unknown): void;
}

/**
 * Makes `script.name` a command of the client, once per client. ioredis sends EVALSHA and
 * loads the script on each connection the first time (EVAL), NOSCRIPT included. Without
 * numberOfKeys the first argument is the key count.
 */
export function defineScript(client: RedisClient, script: { readonly name: string; readonly lua: string; readonly numberOfKeys?: number }): void {
  if (!(script.name in client)) client.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
}

const shared = new WeakMap<RedisClient, RedisCommandRunner>();

/**
 * The one runner of a client, for sinks that share the client: what they send side by side
 * (the L1 publishes of one batch and the L2 deletes of the next) then shares a flush, and a
 * sink's commands keep their order on the connection (they are queued in call order).
 */
export function sharedRunner(client: RedisClient): RedisCommandRunner {
  let runner = shared.get(client);
  if (!runner) shared.set(client, (runner = new RedisCommandRunner(client)));
  return runner;
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
