import {
  ChangeSource,
  DeadLetterSink,
  InvalidationBatch,
  InvalidationSink,
  Logger,
  MissingValue,
  childLogger,
  errorMessage,
  nowMs,
  qualifiedName,
  sleep,
} from '@cdc/core';
import { BatchApplier } from './batch-applier';
import { BuildHooks, RuleEvaluator, RuleFailure } from './batch-builder';
import { FoldCounters } from './fold-counters';
import { PendingBatch } from './pending-batch';
import { ruleFailureLetter } from './dead-letters';
import { pipelineMetrics as m } from './pipeline-metrics';

export interface PipelineOptions {
  /** Most change events folded into one invalidation batch. Default 5000. */
  maxBatchEvents?: number;
  /**
   * How long (ms) an idle applier waits for more events before applying a batch smaller than
   * maxBatchEvents. Default 0: under low load a single commit goes out at once; under load,
   * batches form naturally while the previous one is being applied.
   */
  lingerMs?: number;
  /**
   * Backoff for retriable sink errors and for a failing dead-letter write (the source stays
   * paused meanwhile; nothing is confirmed past an unrecorded failure). Defaults 50 ms .. 5 s.
   */
  retryInitialDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Name used in metrics and dead letters. Default: the source's name. */
  sourceName?: string;
}

/** Called after each batch is fully applied and acked; the benchmark and tests use it for exact timings. */
export type AppliedListener = (info: { batch: InvalidationBatch; redisAppliedAtMs: number; doneAtMs: number }) => void;

/** Batches between the first sink and the ack at once: enough to overlap L2 with L1/CDN of the previous batch. */
const MAX_BATCHES_IN_FLIGHT = 2;

export type PipelineState = 'idle' | 'running' | 'stopping' | 'stopped' | 'failed';

/** Where the current rules come from; a hot reload swaps what `current()` returns, between batches. */
export interface RulesProvider {
  current(): RuleEvaluator;
}

/**
 * Source → rules → sinks → ack, in source order.
 *
 * Two stages overlap: the reader folds source batches into a pending batch (rules
 * evaluation, coalescing) while the applier applies the previous batch to the sinks in
 * order (Redis L2, then L1 pub/sub, then the CDN outbox) and only then acks it. One
 * applier keeps per-row order; a bounded pending batch keeps memory bounded: when it is
 * full the reader stops reading and the source pauses its input (backpressure).
 */
export class InvalidationPipeline {
  private readonly log: Logger;
  private readonly maxBatchEvents: number;
  private readonly lingerMs: number;
  private readonly abort = new AbortController();
  private pending = new PendingBatch();
  private wakeApplier?: () => void;
  private wakeReader?: () => void;
  private readerDone = false;
  /** Batches handed to the sinks and not yet acked, oldest first. */
  private readonly applying: Array<Promise<void>> = [];
  /** The one way batches reach the sinks (shared with replay, backfill, redrive and the admin API). */
  private readonly applier: BatchApplier;
  /** Whether the last batch handed to the applier was acked; the next one acks only after it. */
  private lastAcked: Promise<boolean> = Promise.resolve(true);
  private loops?: Promise<void>;
  private readonly listeners: AppliedListener[] = [];
  private readonly missingLogged = new Map<string, number>();
  /**
   * The latency histograms' observers, bound once: they see one value per transaction, and
   * `histogram.observe(v)` builds a closure and a labels object on every call.
   */
  private readonly latency = { applied: m.commitToApplied.labels(), done: m.commitToDone.labels() };
  private stateValue: PipelineState = 'idle';
  private lastError?: string;
  /** Position of the last batch fully applied and acked. */
  lastAppliedPosition = '';
  lastAppliedAtMs = 0;

  constructor(
    private readonly source: ChangeSource,
    private readonly rules: RulesProvider,
    private readonly sinks: readonly InvalidationSink[],
    deadLetters: DeadLetterSink | undefined,
    private readonly options: PipelineOptions = {},
  ) {
    this.log = childLogger('pipeline');
    this.maxBatchEvents = options.maxBatchEvents ?? 5000;
    this.lingerMs = options.lingerMs ?? 0;
    this.applier = new BatchApplier({
      sinks,
      deadLetters,
      sourceName: options.sourceName ?? source.name,
      maxAttempts: Infinity,
      initialDelayMs: options.retryInitialDelayMs ?? 50,
      maxDelayMs: options.retryMaxDelayMs ?? 5_000,
      signal: this.abort.signal,
      logName: 'pipeline',
    });
  }

  get state(): PipelineState {
    return this.stateValue;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  onApplied(listener: AppliedListener): void {
    this.listeners.push(listener);
  }

  /** Starts sinks, then the source, then the two stages. Resolves once streaming has begun. */
  async start(): Promise<void> {
    for (const sink of this.sinks) await sink.start();
    await this.source.start();
    this.stateValue = 'running';
    this.loops = Promise.all([this.readLoop(), this.applyLoop()]).then(
      () => {
        if (this.stateValue !== 'failed') this.stateValue = 'stopped';
      },
      (err) => {
        this.stateValue = 'failed';
        this.lastError = errorMessage(err);
        this.log.error({ err }, 'pipeline failed');
      },
    );
  }

  /** Resolves when the pipeline has stopped on its own (source closed) or failed. */
  async done(): Promise<void> {
    await this.loops;
  }

  /**
   * Graceful stop: no new reads; the batch being applied finishes and is acked; the pending
   * (not yet applied) batch is dropped unacked, so the source re-delivers it after restart.
   * Gives up waiting after `deadlineMs` (retries are aborted), leaving the rest unacked.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'idle') return;
    this.stateValue = 'stopping';
    this.readerDone = true;
    this.wakeApplier?.();
    this.wakeReader?.();
    const timer = setTimeout(() => this.abort.abort(), deadlineMs);
    try {
      // Stopping the source resolves a pending read() with null so the reader exits.
      const sourceStopped = this.source.stop();
      await Promise.race([this.loops, sleep(deadlineMs, this.abort.signal)]);
      this.abort.abort();
      await sourceStopped.catch((err) => this.log.warn({ err }, 'source stop failed'));
      for (const sink of this.sinks) await sink.stop().catch((err) => this.log.warn({ err, sink: sink.name }, 'sink stop failed'));
    } finally {
      clearTimeout(timer);
      this.stateValue = 'stopped';
    }
  }

  private async readLoop(): Promise<void> {
    const counters = new FoldCounters();
    const hooks: BuildHooks = {
      onEvent: (e, matched) => counters.event(e, matched),
      onMatch: (match) => counters.match(match),
      onMissing: (missing) => this.countMissing(missing),
      onRuleFailure: (failure) => this.onRuleFailure(failure),
    };
    while (!this.readerDone) {
      // Backpressure: a full pending batch waits for the applier; meanwhile the source buffers
      // a bounded amount and then pauses its input.
      while (this.pending.eventCount >= this.maxBatchEvents && !this.readerDone) {
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = undefined;
      }
      if (this.readerDone) break;
      const batch = await this.source.read(this.maxBatchEvents - this.pending.eventCount);
      if (!batch) break;
      if (this.readerDone) break; // stopping: leave it unacked, it will be re-delivered
      this.pending.fold(batch, this.rules.current(), hooks);
      counters.flush();
      this.wakeApplier?.();
    }
    this.readerDone = true;
    this.wakeApplier?.();
  }

  private async applyLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.pending.isEmpty) {
          if (this.readerDone) return;
          await new Promise<void>((resolve) => (this.wakeApplier = resolve));
          this.wakeApplier = undefined;
          continue;
        }
        if (this.stateValue === 'stopping') return; // the pending batch stays unacked
        if (this.lingerMs > 0 && this.pending.eventCount < this.maxBatchEvents && !this.readerDone) {
          await sleep(this.lingerMs, this.abort.signal);
        }
        const batch = this.pending;
        this.pending = new PendingBatch();
        this.wakeReader?.();
        const { firstSinkDone, done } = this.startApply(batch);
        this.applying.push(done);
        // The next batch may enter the first sink once this one has left it; later sinks
        // work on earlier batches meanwhile. A bounded number of batches is in flight.
        await firstSinkDone;
        while (this.applying.length >= MAX_BATCHES_IN_FLIGHT) await this.applying.shift();
      }
    } finally {
      while (this.applying.length) await this.applying.shift();
    }
  }

  /**
   * Runs a batch through the one BatchApplier (sinks in order, each sink taking batches in
   * order, failures confined and dead-lettered, dead letters stored before `done`), then acks
   * it: only when it was applied and every earlier batch was acked, so no position is
   * confirmed past a batch whose failures are not yet recorded.
   */
  private startApply(pending: PendingBatch): { firstSinkDone: Promise<unknown>; done: Promise<void> } {
    const batch = pending.invalidation;
    m.batchEvents.observe(batch.eventCount);
    m.batchActions.observe(pending.actionCount);
    m.coalesced.inc(Math.max(0, pending.actionsBeforeCoalescing - pending.actionCount));
    const source = this.options.sourceName ?? this.source.name;
    const letters = pending.failures.map((f) => ruleFailureLetter(source, f.event, f.rule, f.error));
    const { firstSinkDone, done: applied } = this.applier.submit(batch, letters);
    const previousAcked = this.lastAcked;
    const acked = (async (): Promise<boolean> => {
      try {
        const outcome = await applied;
        // Aborted while stopping (this batch or an earlier one): leave it unacked, it is re-delivered.
        if (!(await previousAcked) || outcome.status !== 'applied') return false;
        if (outcome.ranSinks) {
          m.actions.inc({ kind: 'key' }, batch.keys.size);
          m.actions.inc({ kind: 'tag' }, batch.tags.size);
          m.actions.inc({ kind: 'pattern' }, batch.patterns.size);
          m.actions.inc({ kind: 'cdn' }, batch.cdnCount);
        }
        pending.ackAll();
        const redisAppliedAtMs = outcome.firstSinkDoneAtMs;
        const doneAtMs = nowMs();
        const latency = this.latency;
        for (const t of batch.commitTimesMs) {
          latency.applied.observe(Math.max(0, redisAppliedAtMs - t) / 1000);
          latency.done.observe(Math.max(0, doneAtMs - t) / 1000);
        }
        m.batches.inc({ outcome: 'applied' });
        this.lastAppliedPosition = batch.lastPosition;
        this.lastAppliedAtMs = doneAtMs;
        for (const l of this.listeners) l({ batch, redisAppliedAtMs, doneAtMs });
        return true;
      } catch (err) {
        // Not expected (the applier retries until stopped): fail loudly, ack nothing more.
        this.stateValue = 'failed';
        this.lastError = errorMessage(err);
        this.log.error({ err }, 'applying a batch failed');
        this.abort.abort();
        throw err;
      }
    })();
    this.lastAcked = acked.catch(() => false);
    return { firstSinkDone, done: acked.then(() => undefined) };
  }

  private onRuleFailure(failure: RuleFailure): void {
    const { event, rule, error } = failure;
    m.errors.inc({ stage: 'rules', retriable: 'false' });
    if (rule !== undefined) m.ruleFailures.inc({ rule });
    this.log.error(
      { err: errorMessage(error), rule, table: qualifiedName(event), op: event.op, position: event.position },
      rule !== undefined ? 'a rule failed on an event; dead-lettering that rule\'s output, the other rules still apply' : 'event failed in rules; dead-lettering it',
    );
  }

  /** Counts every miss; logs the first per rule/column and then every 1000th, to keep logs useful. */
  private countMissing(missing: MissingValue): void {
    m.missingValues.inc({ rule: missing.rule, column: missing.column, reason: missing.reason });
    const id = `${missing.rule}\u0000${missing.column}\u0000${missing.reason}`;
    const n = (this.missingLogged.get(id) ?? 0) + 1;
    this.missingLogged.set(id, n);
    if (n === 1 || n % 1000 === 0) {
      this.log.warn(
        { rule: missing.rule, column: missing.column, template: missing.template, reason: missing.reason, occurrences: n },
        missing.reason === 'unknown'
          ? 'rule template skipped: the event does not carry this value (unchanged TOAST or not in the old tuple; consider REPLICA IDENTITY FULL)'
          : 'rule template skipped: value missing',
      );
    }
  }

  get busy(): boolean {
    return this.applying.length > 0;
  }
}
