import { ChangeEvent, DeadLetterSink, InvalidationSink, RuleMatch, childLogger, errorMessage, qualifiedName } from '@cdc/core';
import { BatchApplier, PendingBatch, ruleFailureLetter } from '@cdc/pipeline';
import { CompiledRules } from '@cdc/rules';
import { RedisClient, RedisDeadLetterSink, RedisInvalidationSink, createRedisClient } from '@cdc/sink-redis';
import { WorkerSettings } from '../config/worker-settings';
import { PluginContext } from '../pipeline/plugins';

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

/** A failed unit (a rule on one event, actions or a batch a sink rejected): dead-lettered, reported, never silently dropped. */
export interface SinkRejection {
  readonly sink: string;
  readonly reason: string;
  readonly position: string;
}

export interface ApplyStats {
  /** Batches applied to the sinks (0 in a dry run). */
  batches: number;
  events: number;
  /** Rules that failed on an event (only that rule's output is lost); dead-lettered, the run goes on. */
  ruleErrors: number;
  /** Actions or batches a sink rejected for good; dead-lettered, the run goes on. */
  readonly rejections: SinkRejection[];
  /** Dead letters written to the dead-letter stream (rule failures and rejections). */
  deadLettered: number;
}

export interface RulesApplierOptions {
  /** Attempts per sink and for the dead-letter write while Redis is down, before the command fails. Default 20 (about a minute). */
  readonly maxAttempts?: number;
  /** Where failed units go (the Redis stream `cdc:dead-letter` for the CLI). */
  readonly deadLetters?: DeadLetterSink;
  /** `source` of the dead letters. Default 'cli'. */
  readonly sourceName?: string;
}

/**
 * Rules → coalesced InvalidationBatch → the pipeline's BatchApplier, for one run of events.
 * Without sinks (a dry run) it only evaluates. Resolves once every sink confirmed the batch
 * and every failure of it is in the dead-letter stream, so the caller may then move its own
 * cursor (a backfill page, a replay batch); throws (cursor stays) when Redis stays down.
 */
export class RulesApplier {
  readonly stats: ApplyStats = { batches: 0, events: 0, ruleErrors: 0, rejections: [], deadLettered: 0 };
  private readonly applier?: BatchApplier;
  private readonly sourceName: string;

  constructor(
    private readonly rules: CompiledRules,
    sinks: readonly InvalidationSink[] | undefined,
    options: RulesApplierOptions = {},
  ) {
    this.sourceName = options.sourceName ?? 'cli';
    if (sinks) {
      this.applier = new BatchApplier({
        sinks,
        deadLetters: options.deadLetters,
        sourceName: this.sourceName,
        maxAttempts: options.maxAttempts ?? 20,
        logName: 'cli-sinks',
      });
    }
  }

  get dryRun(): boolean {
    return this.applier === undefined;
  }

  async apply(events: readonly ChangeEvent[]): Promise<RuleMatch[]> {
    const matches: RuleMatch[] = [];
    const pending = new PendingBatch();
    pending.fold({ events, ack: () => undefined }, this.rules, {
      onEvent: () => undefined,
      onMatch: (m) => matches.push(m),
      onMissing: () => undefined,
      onRuleFailure: (f) => {
        this.stats.ruleErrors++;
        log.error({ err: errorMessage(f.error), rule: f.rule, table: qualifiedName(f.event), op: f.event.op, position: f.event.position }, 'a rule failed on an event; dead-lettered');
      },
    });
    this.stats.events += events.length;
    if (!this.applier) return matches;
    const batch = pending.invalidation;
    const letters = pending.failures.map((f) => ruleFailureLetter(this.sourceName, f.event, f.rule, f.error));
    const outcome = await this.applier.apply(batch, letters);
    if (outcome.status !== 'applied') throw new Error('applying a batch was aborted');
    if (outcome.ranSinks) this.stats.batches++;
    this.stats.deadLettered += outcome.deadLetters.length;
    for (const letter of outcome.deadLetters.slice(letters.length)) {
      const sink = (letter.payload as { sink?: string }).sink ?? '';
      this.stats.rejections.push({ sink, reason: letter.reason, position: letter.position });
    }
    return matches;
  }
}

export interface CliSinks {
  /** L2, L1, CDN outbox, in apply order; empty in a dry run. */
  readonly sinks: readonly InvalidationSink[];
  readonly applier: RulesApplier;
  /** The dead-letter stream the applier records failures in (absent in a dry run). */
  readonly deadLetters?: DeadLetterSink;
  /** The Redis client of the sinks (lazy: a dry run never connects it unless the caller does). */
  readonly redis: RedisClient;
  /** Stops the sinks and disconnects Redis. */
  close(): Promise<void>;
}

/**
 * Builds and starts the sinks `run` would use, from settings read by `loadWorkerSettings`
 * (one error named every bad variable before this). In a dry run no sink is built and
 * nothing connects.
 */
export async function openCliSinks(input: {
  readonly settings: WorkerSettings;
  readonly dryRun: boolean;
  /** `source` of the dead letters this command writes (e.g. 'backfill', 'replay'). */
  readonly sourceName?: string;
}): Promise<CliSinks> {
  const { settings } = input;
  const rules = settings.rules;
  const redis = createRedisClient(settings.redis);
  if (input.dryRun) return { sinks: [], applier: new RulesApplier(rules, undefined), redis, close: async () => redis.disconnect() };
  const ctx: PluginContext = { worker: settings.worker, sourceName: input.sourceName ?? settings.source.plugin.name, explicitPolicy: settings.explicitPolicy, rules: () => rules, redis };
  const sinks: InvalidationSink[] = [new RedisInvalidationSink({ client: redis, deleteLeases: settings.worker.REDIS_DELETE_LEASES })];
  for (const plugin of settings.sinks) sinks.push((await plugin.create(ctx)).sink);
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
  // Failures go to the same dead-letter stream as `run`'s (Postgres mode), where `dead-letters redrive` finds them.
  const deadLetters = new RedisDeadLetterSink({ client: redis });
  return { sinks, deadLetters, applier: new RulesApplier(rules, sinks, { deadLetters, sourceName: input.sourceName }), redis, close };
}
