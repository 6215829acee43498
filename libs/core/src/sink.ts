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
  /**
   * Resolves with the actions that were rejected for good (a retry cannot help), each
   * with its reason; everything else in the batch was applied. The caller dead-letters
   * the rejected actions durably before the batch's position is confirmed. A sink that
   * can only fail as a whole throws instead.
   */
  apply(batch: InvalidationBatch): Promise<SinkApplyResult | void>;
  stop(): Promise<void>;
}

/** One action a sink could not apply, confined to the smallest unit (one key, one tag, one pattern, ...). */
export interface RejectedAction {
  readonly kind: 'key' | 'tag' | 'pattern' | 'channel' | 'cdn';
  readonly value: string;
  readonly reason: string;
}

export interface SinkApplyResult {
  readonly rejected: readonly RejectedAction[];
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
