import { ChangeEvent } from '@cdc/core';
import { PartitionProgress } from './partition-progress';

/**
 * Events of a run of consecutive records of one partition, registered with that
 * partition's progress as one unit. A segment can be handed out in several parts (a read
 * takes at most `maxEvents`); it completes when every part has been acked.
 */
export class Segment {
  /** Next event to hand out. */
  cursor = 0;
  parts = 0;
  acked = 0;

  constructor(
    readonly progress: PartitionProgress,
    readonly ticket: number,
    readonly events: readonly ChangeEvent[],
  ) {}

  get fullyHandedOut(): boolean {
    return this.cursor >= this.events.length;
  }

  /** Records one acked part; true when the whole segment is done. */
  ackPart(): boolean {
    this.acked++;
    return this.fullyHandedOut && this.acked === this.parts;
  }
}

/**
 * FIFO of decoded segments between the kafkajs runner and `read()`. Events leave in the
 * order they arrived, so each partition's events are handed out in offset order.
 */
export class SegmentBuffer {
  /** Slots before `head` are emptied as soon as a segment is fully handed out (see `take`). */
  private segments: Array<Segment | undefined> = [];
  private head = 0;
  /** Events buffered and not yet handed out. */
  size = 0;

  push(segment: Segment): void {
    this.segments.push(segment);
    this.size += segment.events.length;
  }

  /** Takes up to `maxEvents` events from the head; returns them and the segments they came from. */
  take(maxEvents: number): { events: ChangeEvent[]; parts: Segment[] } {
    const events: ChangeEvent[] = [];
    const parts: Segment[] = [];
    while (this.head < this.segments.length && events.length < maxEvents) {
      const seg = this.segments[this.head]!;
      const n = Math.min(seg.events.length - seg.cursor, maxEvents - events.length);
      for (let i = 0; i < n; i++) events.push(seg.events[seg.cursor + i]);
      seg.cursor += n;
      seg.parts++;
      parts.push(seg);
      // The slot lets go of the segment at once: the reader's batch holds what it still needs
      // until its ack, and a drained segment kept here would pin its events (and so the heap
      // would grow with the stream until the next compaction).
      if (seg.fullyHandedOut) this.segments[this.head++] = undefined;
    }
    this.size -= events.length;
    this.compact();
    return { events, parts };
  }

  /** Drops every segment whose partition matches (revoked by a rebalance); they will be re-fetched. */
  dropWhere(pred: (progress: PartitionProgress) => boolean): number {
    let dropped = 0;
    const kept: Segment[] = [];
    for (let i = this.head; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      if (pred(seg.progress)) dropped += seg.events.length - seg.cursor;
      else kept.push(seg);
    }
    this.segments = kept;
    this.head = 0;
    this.size -= dropped;
    return dropped;
  }

  /** Segments the buffer still references (handed out in part or not at all). */
  get heldSegments(): number {
    return this.segments.length - this.head;
  }

  private compact(): void {
    if (this.head === this.segments.length) {
      this.segments = [];
      this.head = 0;
    } else if (this.head > 256 && this.head * 2 > this.segments.length) {
      this.segments.splice(0, this.head);
      this.head = 0;
    }
  }
}
