import { InvalidationBatch } from './invalidation-batch';

/**
 * An output. `apply` resolves only once the batch's effect is durable at the
 * destination (Redis replied, the message was published, the purge is in the outbox).
 * It throws a CdcError; retriable errors are retried by the pipeline with backoff
 * while the source stays paused.
 */
export interface InvalidationSink {
  readonly name: string;
  start(): Promise<void>;
  apply(batch: InvalidationBatch): Promise<void>;
  stop(): Promise<void>;
}

/** An event that could not be processed, with the reason; the stream goes on. */
export interface DeadLetter {
  readonly reason: string;
  readonly source: string;
  readonly position: string;
  readonly payload: unknown;
  readonly at: string;
}

export interface DeadLetterSink {
  publish(letters: readonly DeadLetter[]): Promise<void>;
}
