import {
  ChangeEvent,
  InvalidationBatch,
  InvalidationSink,
  RuleMatch,
  childLogger,
  errorMessage,
  isRetriable,
  qualifiedName,
  withRetry,
} from '@cdc/core';
import { PendingBatch } from '@cdc/pipeline';
import { CompiledRules } from '@cdc/rules';
import { RedisClient, RedisInvalidationSink, createRedisClient, redisConfigFromEnv } from '@cdc/sink-redis';
import { WorkerEnv } from '../config/worker-config';
import { PluginContext, validatePluginEnv } from '../pipeline/plugins';
import { SINK_PLUGINS } from '../sinks/registry';

/**
 * What the one-shot commands (`replay`, `backfill`) share with `run`: the same sinks in the
 * same order (Redis L2, L1 pub/sub, CDN outbox), fed with batches built by the pipeline's
 * PendingBatch from events in order. The CDN purge worker is not started here: purges are
 * queued durably in the outbox and the live worker's purge worker sends them.
 */

const log = childLogger('cli-sinks');

export type ActionKind = 'keys' | 'tags' | 'patterns' | 'channels' | 'cdn';
export const ACTION_KINDS: readonly ActionKind[] = ['keys', 'tags', 'patterns', 'channels', 'cdn'];

/** Per kind: how many actions the rules produced (duplicates included) and a few distinct samples. */
export type ActionCounts = Record<ActionKind, { count: number; samples: string[] }>;

/** Counts and samples rule matches, for the end-of-run summary. Bounded: only `samples` values per kind are kept. */
export class ActionTally {
  private readonly counts = new Map<ActionKind, { count: number; samples: Set<string> }>(ACTION_KINDS.map((k) => [k, { count: 0, samples: new Set() }]));

  constructor(private readonly samples = 5) {}

  add(matches: readonly RuleMatch[]): void {
    for (const m of matches) {
      this.count('keys', m.keys);
      this.count('tags', m.tags);
      this.count('patterns', m.patterns);
      this.count('channels', m.channels);
      this.count('cdn', m.cdn.map((c) => `${c.provider}:${c.target}:${c.kind}:${c.value}`));
    }
  }

  snapshot(): ActionCounts {
    return Object.fromEntries([...this.counts].map(([k, v]) => [k, { count: v.count, samples: [...v.samples] }])) as ActionCounts;
  }

  private count(kind: ActionKind, values: readonly string[]): void {
    const entry = this.counts.get(kind)!;
    entry.count += values.length;
    for (const v of values) {
      if (entry.samples.size >= this.samples) break;
      entry.samples.add(v);
    }
  }
}

/** Human-readable action lines; a dry run says what would have been invalidated. */
export function renderActions(actions: ActionCounts, dryRun: boolean): string[] {
  const label: Record<ActionKind, string> = { keys: 'keys', tags: 'tags', patterns: 'patterns', channels: 'L1 channels', cdn: 'CDN purges' };
  const width = Math.max(...ACTION_KINDS.map((k) => String(actions[k].count).length));
  return [
    `  ${dryRun ? 'would invalidate' : 'invalidated'} (counts include repeats, samples are distinct):`,
    ...ACTION_KINDS.map((k) => {
      const a = actions[k];
      const samples = a.samples.length ? `  e.g. ${a.samples.join('  ')}` : '';
      return `    ${label[k].padEnd(11)} ${String(a.count).padStart(width)}${samples}`;
    }),
  ];
}

/** A sink that refused a batch with a non-retriable error: reported, never silently dropped. */
export interface SinkRejection {
  readonly sink: string;
  readonly reason: string;
  readonly position: string;
}

export interface ApplyStats {
  /** Batches applied to the sinks (0 in a dry run). */
  batches: number;
  events: number;
  /** Events the rules could not evaluate (bad data); counted and logged, the run goes on. */
  ruleErrors: number;
  readonly rejections: SinkRejection[];
}

export interface RulesApplierOptions {
  /** Attempts per sink for retriable errors (Redis down) before the command fails. Default 20 (about a minute). */
  readonly maxAttempts?: number;
}

/**
 * Rules → coalesced InvalidationBatch → sinks, in order, for one run of events. Without
 * sinks (a dry run) it only evaluates. Resolves once every sink confirmed the batch, so the
 * caller may then move its own cursor (a backfill page, a replay batch).
 */
export class RulesApplier {
  readonly stats: ApplyStats = { batches: 0, events: 0, ruleErrors: 0, rejections: [] };

  constructor(
    private readonly rules: CompiledRules,
    private readonly sinks: readonly InvalidationSink[] | undefined,
    private readonly options: RulesApplierOptions = {},
  ) {}

  get dryRun(): boolean {
    return this.sinks === undefined;
  }

  async apply(events: readonly ChangeEvent[]): Promise<RuleMatch[]> {
    const matches: RuleMatch[] = [];
    const pending = new PendingBatch();
    pending.fold({ events, ack: () => undefined }, this.rules, {
      onEvent: () => undefined,
      onMatch: (m) => matches.push(m),
      onMissing: () => undefined,
      onBadEvent: (e, err) => {
        this.stats.ruleErrors++;
        log.error({ err: errorMessage(err), table: qualifiedName(e), op: e.op, position: e.position }, 'event failed in rules; skipped');
      },
    });
    this.stats.events += events.length;
    const batch = pending.invalidation;
    if (this.sinks && (!batch.isEmpty || batch.channels.size > 0)) {
      for (const sink of this.sinks) await this.applyToSink(sink, batch);
      this.stats.batches++;
    }
    return matches;
  }

  /** Same policy as the pipeline: retriable errors are retried with backoff, a rejection is reported and the next sink still runs. */
  private async applyToSink(sink: InvalidationSink, batch: InvalidationBatch): Promise<void> {
    try {
      await withRetry(() => sink.apply(batch), {
        maxAttempts: this.options.maxAttempts ?? 20,
        initialDelayMs: 50,
        maxDelayMs: 5_000,
        onRetry: (err, attempt) => {
          if (attempt === 1 || attempt % 5 === 0) log.warn({ sink: sink.name, attempt, err: errorMessage(err) }, 'sink unavailable, retrying');
        },
      });
    } catch (err) {
      if (isRetriable(err)) throw err; // still down after every attempt: stop here, before the caller's cursor moves
      this.stats.rejections.push({ sink: sink.name, reason: errorMessage(err), position: batch.lastPosition });
      log.error({ sink: sink.name, err: errorMessage(err), position: batch.lastPosition }, 'sink rejected batch');
    }
  }
}

export interface CliSinks {
  /** L2, L1, CDN outbox, in apply order; empty in a dry run. */
  readonly sinks: readonly InvalidationSink[];
  readonly applier: RulesApplier;
  /** The Redis client of the sinks (lazy: a dry run never connects it unless the caller does). */
  readonly redis: RedisClient;
  /** Stops the sinks and disconnects Redis. */
  close(): Promise<void>;
}

/**
 * Validates the environment the sinks (and `worker.SOURCE`'s source) need, in one error
 * naming every bad variable, then builds and starts the sinks `run` would use. In a dry run
 * no sink is built and nothing connects.
 */
export async function openCliSinks(input: {
  readonly env: NodeJS.ProcessEnv;
  readonly worker: WorkerEnv;
  readonly rules: CompiledRules;
  readonly dryRun: boolean;
}): Promise<CliSinks> {
  const { env, worker, rules } = input;
  validatePluginEnv(worker, env, rules);
  const redis = createRedisClient(redisConfigFromEnv(env));
  if (input.dryRun) return { sinks: [], applier: new RulesApplier(rules, undefined), redis, close: async () => redis.disconnect() };
  const ctx: PluginContext = { env, worker, rules: () => rules, redis };
  const sinks: InvalidationSink[] = [new RedisInvalidationSink({ client: redis })];
  for (const plugin of SINK_PLUGINS) {
    if (plugin.enabled(ctx)) sinks.push((await plugin.create(ctx)).sink);
  }
  const started: InvalidationSink[] = [];
  const close = async (): Promise<void> => {
    for (const s of [...started].reverse()) await s.stop().catch((err) => log.warn({ sink: s.name, err: errorMessage(err) }, 'sink stop failed'));
    redis.disconnect();
  };
  try {
    for (const s of sinks) {
      await s.start();
      started.push(s);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { sinks, applier: new RulesApplier(rules, sinks), redis, close };
}
