import { CheckpointTracker } from '@cdc/core';

/**
 * What one assigned partition has handed out and what may be committed.
 *
 * Work is registered in offset order as segments (a run of consecutive records, with or
 * without events). The commit offset is the last offset of the highest contiguous
 * completed segment + 1 (Kafka commits the next offset to read). A new instance is made
 * for every assignment (generation): once `revoked`, its late acks are ignored.
 */
export class PartitionProgress {
  readonly key: string;
  private readonly tracker = new CheckpointTracker<string>();
  revoked = false;
  /** Offset last committed to the group (the next offset to read), if known. */
  committed?: string;
  /** Offset waiting to be committed. */
  pendingCommit?: string;
  /** High watermark seen in the last fetch, for the lag gauge. */
  highWatermark?: string;
  /** First offset this assignment fetched: the committed offset at assignment time. */
  startOffset?: string;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {
    this.key = `${topic}/${partition}`;
  }

  /** Registers a segment that ends at `lastOffset`; returns its ticket. */
  track(lastOffset: string): number {
    return this.tracker.track(lastOffset);
  }

  /** Marks a segment done; returns the offset to commit if the checkpoint advanced. */
  complete(ticket: number): string | undefined {
    if (this.revoked) return undefined;
    const advanced = this.tracker.complete(ticket);
    if (advanced === undefined) return undefined;
    this.pendingCommit = (BigInt(advanced) + 1n).toString();
    return this.pendingCommit;
  }

  /** Segments handed out or buffered and not yet completed. */
  get inFlight(): number {
    return this.tracker.inFlight;
  }

  /** Messages between what was committed (or read from) and the high watermark. */
  lag(): number | undefined {
    const base = this.committed ?? this.startOffset;
    if (this.highWatermark === undefined || base === undefined) return undefined;
    const lag = Number(BigInt(this.highWatermark) - BigInt(base));
    return lag < 0 ? 0 : lag;
  }
}
