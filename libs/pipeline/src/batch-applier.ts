import {
  CdcError,
  DeadLetter,
  DeadLetterSink,
  InvalidationBatch,
  InvalidationSink,
  Logger,
  childLogger,
  errorMessage,
  isRetriable,
  nowMs,
  withRetry,
} from '@cdc/core';
import { rejectedLetters, sinkFailureLetter } from './dead-letters';
import { pipelineMetrics as m } from './pipeline-metrics';

export interface BatchApplierOptions {
  /** In apply order: Redis L2, then L1 pub/sub, then the CDN outbox. */
  readonly sinks: readonly InvalidationSink[];
  /** Where failed units go. Without one, a batch that has a failure to record cannot be confirmed (it throws). */
  readonly deadLetters: DeadLetterSink | undefined;
  /** `source` of the dead letters and the metric label. */
  readonly sourceName: string;
  /**
   * Attempts per sink (and for the dead-letter write) while the error is retriable. Default
   * Infinity: retry until `signal` aborts (the pipeline: the source stays paused meanwhile).
   */
  readonly maxAttempts?: number;
  /** Backoff between attempts. Defaults 50 ms .. 5 s. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Aborting ends retries; the batch then resolves `aborted` (nothing to confirm). */
  readonly signal?: AbortSignal;
  /** Call `sink.start()` before each attempt (idempotent): for a standby replica whose pipeline has not started them. */
  readonly startSinks?: boolean;
  /** Logger name. Default 'batch-applier'. */
  readonly logName?: string;
}

export type ApplyOutcome =
  | {
      readonly status: 'applied';
      /** Sinks that did their part (a sink that failed the whole batch for good is not listed; its failure is in deadLetters). */
      readonly sinks: readonly string[];
      /** Every failed unit of the batch, durably stored before this resolved. */
      readonly deadLetters: readonly DeadLetter[];
      /** When the first sink (Redis L2) finished; the resolve time when no sink ran. */
      readonly firstSinkDoneAtMs: number;
      /** At least one sink ran (the batch had something to apply). */
      readonly ranSinks: boolean;
    }
  | { readonly status: 'aborted' };

/** A sink stayed unavailable for every attempt; `applied` lists the sinks that had already done their part. */
export class SinkUnavailableError extends CdcError {
  constructor(
    readonly sink: string,
    readonly applied: readonly string[],
    cause: unknown,
  ) {
    super(`${sink}: ${errorMessage(cause)}`, { code: 'SINK_UNAVAILABLE', retriable: true, cause });
  }
}

/** The dead-letter store stayed unavailable: the batch's failures are not recorded, so it must not be confirmed. */
export class DeadLetterStoreError extends CdcError {
  constructor(
    readonly applied: readonly string[],
    cause: unknown,
    retriable = true,
  ) {
    super(`dead-letter store: ${errorMessage(cause)}`, { code: 'DEAD_LETTER_STORE_UNAVAILABLE', retriable, cause });
  }
}

const ABORTED = Symbol('aborted');
const noop = (): void => undefined;

/**
 * The one way a batch is applied to the sinks, for the pipeline, `replay`, `backfill`,
 * `dead-letters redrive` and the admin API's manual invalidation:
 *
 * - the sinks run in order, and a batch enters a sink only after the previous sink is done
 *   with it (L2 is deleted before L1 hears of it); each sink takes batches in submit order;
 * - a retriable error is retried with backoff (the caller's position stays where it is);
 *   after the last attempt the batch fails with SinkUnavailableError and later sinks do not run;
 * - a failure is confined to the smallest unit: actions a sink rejects one by one
 *   (SinkApplyResult.rejected) and a batch a sink rejects as a whole for good are
 *   dead-lettered with the reason, and the remaining sinks still run;
 * - the batch resolves `applied` only after every dead letter of it (rule failures handed in,
 *   rejections found here) is durably stored; a dead-letter store that is down is retried like
 *   a sink. The caller confirms its position only on `applied`.
 */
export class BatchApplier {
  private readonly log: Logger;
  /** Per sink, the last batch given to it: a sink takes batches in order. */
  private readonly tails: Array<Promise<void>>;

  constructor(private readonly options: BatchApplierOptions) {
    this.log = childLogger(options.logName ?? 'batch-applier');
    this.tails = options.sinks.map(() => Promise.resolve());
  }

  get sinks(): readonly InvalidationSink[] {
    return this.options.sinks;
  }

  /** Applies one batch and resolves once it is done (see the class comment). */
  async apply(batch: InvalidationBatch, letters: readonly DeadLetter[] = []): Promise<ApplyOutcome> {
    return this.submit(batch, letters).done;
  }

  /**
   * Starts a batch. `firstSinkDone` settles when the first sink is done with it (the next
   * batch may then enter that sink while later sinks work on this one); `done` as for apply().
   */
  submit(batch: InvalidationBatch, letters: readonly DeadLetter[] = []): { firstSinkDone: Promise<unknown>; done: Promise<ApplyOutcome> } {
    const collected: DeadLetter[] = [...letters];
    const applied: string[] = [];
    let firstSinkDoneAtMs = 0;
    const stages: Array<Promise<boolean>> = [];
    if (!batch.isEmpty || batch.channels.size > 0) {
      let previous: Promise<boolean> = Promise.resolve(true);
      this.options.sinks.forEach((sink, k) => {
        const stage = Promise.all([previous, this.tails[k]]).then(async ([ok]) => {
          if (!ok) return false;
          const outcome = await this.applyToSink(sink, batch, applied);
          if (outcome === ABORTED) return false;
          collected.push(...outcome.letters);
          if (!outcome.failed) applied.push(sink.name);
          if (k === 0) firstSinkDoneAtMs = nowMs();
          return true;
        });
        this.tails[k] = stage.then(noop, noop);
        // Awaited in order below; a later stage's rejection must not go unhandled when an earlier one throws first.
        stage.catch(noop);
        stages.push(stage);
        previous = stage;
      });
    }
    const done = (async (): Promise<ApplyOutcome> => {
      for (const stage of stages) if (!(await stage)) return { status: 'aborted' };
      if (!(await this.record(collected, applied))) return { status: 'aborted' };
      return { status: 'applied', sinks: applied, deadLetters: collected, firstSinkDoneAtMs: firstSinkDoneAtMs || nowMs(), ranSinks: stages.length > 0 };
    })();
    // A batch with nothing to apply (e.g. only rule failures) does not hold up the next one; its ack still waits for done.
    return { firstSinkDone: stages[0] ?? Promise.resolve(), done };
  }

  private async applyToSink(
    sink: InvalidationSink,
    batch: InvalidationBatch,
    appliedBefore: readonly string[],
  ): Promise<{ letters: DeadLetter[]; failed: boolean } | typeof ABORTED> {
    const { signal, sourceName } = this.options;
    try {
      const result = await withRetry(
        async () => {
          if (this.options.startSinks) await sink.start();
          return sink.apply(batch);
        },
        {
          maxAttempts: this.options.maxAttempts ?? Infinity,
          initialDelayMs: this.options.initialDelayMs ?? 50,
          maxDelayMs: this.options.maxDelayMs ?? 5_000,
          signal,
          onRetry: (err, attempt) => {
            m.sinkRetries.inc({ sink: sink.name });
            m.errors.inc({ stage: sink.name, retriable: 'true' });
            if (attempt === 1 || attempt % 20 === 0) {
              this.log.warn({ sink: sink.name, attempt, err: errorMessage(err) }, 'sink unavailable, retrying (position not confirmed meanwhile)');
            }
          },
        },
      );
      const rejected = result?.rejected ?? [];
      if (rejected.length === 0) return { letters: [], failed: false };
      for (const r of rejected) m.rejectedActions.inc({ sink: sink.name, kind: r.kind });
      this.log.error(
        { sink: sink.name, rejected: rejected.length, first: `${rejected[0].kind} ${rejected[0].value}: ${rejected[0].reason}`, position: batch.lastPosition },
        'sink rejected some actions; dead-lettering them, the rest of the batch is applied',
      );
      return { letters: rejectedLetters(sourceName, sink.name, batch, rejected), failed: false };
    } catch (err) {
      if (signal?.aborted) return ABORTED;
      if (isRetriable(err)) throw new SinkUnavailableError(sink.name, [...appliedBefore], err);
      m.errors.inc({ stage: sink.name, retriable: 'false' });
      m.batches.inc({ outcome: 'dead-lettered' });
      this.log.error({ sink: sink.name, err: errorMessage(err), position: batch.lastPosition }, 'sink rejected the batch; dead-lettering its actions');
      return { letters: [sinkFailureLetter(sourceName, sink.name, batch, err)], failed: true };
    }
  }

  /**
   * Stores the letters durably. Every error is retried (never confirm past an unrecorded
   * failure): with infinite attempts until it works or the signal aborts (false).
   */
  private async record(letters: readonly DeadLetter[], applied: readonly string[]): Promise<boolean> {
    if (letters.length === 0) return true;
    const { deadLetters, signal, sourceName } = this.options;
    if (!deadLetters) {
      throw new DeadLetterStoreError(applied, new Error(`no dead-letter store configured for ${letters.length} failure(s): ${letters[0].reason}`), false);
    }
    try {
      await withRetry(() => deadLetters.publish(letters), {
        maxAttempts: this.options.maxAttempts ?? Infinity,
        initialDelayMs: this.options.initialDelayMs ?? 50,
        maxDelayMs: this.options.maxDelayMs ?? 5_000,
        signal,
        retryIf: () => true,
        onRetry: (err, attempt) => {
          m.deadLetterWriteRetries.inc({ source: sourceName });
          if (attempt === 1 || attempt % 20 === 0) {
            this.log.error(
              { attempt, letters: letters.length, first: letters[0].reason, position: letters[letters.length - 1].position, err: errorMessage(err) },
              'dead-letter write failed; retrying, the position is not confirmed until it succeeds',
            );
          }
        },
      });
    } catch (err) {
      if (signal?.aborted) return false;
      throw new DeadLetterStoreError(applied, err);
    }
    m.deadLetters.inc({ source: sourceName }, letters.length);
    return true;
  }
}
