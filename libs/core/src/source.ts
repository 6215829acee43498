import { ChangeEvent } from './change-event';

/**
 * A run of change events handed out by a source, in source order. A batch may end
 * mid-transaction (huge transactions are streamed in chunks); the source confirms a
 * transaction's position only when the batch holding its last event is acked and
 * every earlier batch is too (see CheckpointTracker).
 */
export interface SourceBatch {
  readonly events: readonly ChangeEvent[];
  /**
   * Call once every action derived from `events` is applied (Redis, pub/sub) or durably queued (CDN).
   * Called detached from the batch (`const ack = batch.ack; ... ack()`): the pipeline keeps only
   * the ack, not the events, while a batch waits for its sinks. Make it a closure, not a method.
   */
  readonly ack: () => void;
}

export type SourceStatus = 'idle' | 'connecting' | 'streaming' | 'reconnecting' | 'standby' | 'closed';

/**
 * An input. Implementations own their connection, reconnects and checkpointing;
 * the pipeline only reads and acks. Backpressure: a source buffers a bounded amount
 * and pauses its input while nobody reads.
 */
export interface ChangeSource {
  readonly name: string;
  readonly status: SourceStatus;
  /** Connects (creating publication/slot or joining the group as configured). */
  start(): Promise<void>;
  /**
   * Resolves with the next batch (at most `maxEvents` events) as soon as any event is
   * available, or null once the source is stopped and drained.
   */
  read(maxEvents: number): Promise<SourceBatch | null>;
  /** Stops reading; acks that arrive before `stop` resolves are still confirmed. */
  stop(): Promise<void>;
}
