import { ChangeEvent, DeadLetter } from '@cdc/core';
import { Lsn } from './lsn';

/**
 * The bounded FIFO between the replication socket and `read()`. It holds, in stream
 * order, change events, positions reached (a commit's end LSN, or an idle keepalive's
 * WAL end) and dead letters. Positions and dead letters ride in the queue rather than
 * being handled on arrival because they must be registered with the CheckpointTracker
 * after every event queued before them.
 */

type Item =
  | { readonly kind: 'event'; readonly event: ChangeEvent }
  | { readonly kind: 'position'; readonly lsn: Lsn }
  | { readonly kind: 'dead-letter'; readonly letter: DeadLetter };

export interface TakenRun {
  readonly events: ChangeEvent[];
  /** The last position passed while taking: confirmable once these events (and all before) are done. */
  readonly position: Lsn | undefined;
  /** Dead letters passed while taking, in order. */
  readonly deadLetters: DeadLetter[];
}

export class EventBuffer {
  private items: Item[] = [];
  private head = 0;
  private events = 0;

  /** Change events waiting (positions and dead letters do not count toward the bound). */
  get eventCount(): number {
    return this.events;
  }

  get isEmpty(): boolean {
    return this.head === this.items.length;
  }

  pushEvent(event: ChangeEvent): void {
    this.items.push({ kind: 'event', event });
    this.events++;
  }

  pushPosition(lsn: Lsn): void {
    this.items.push({ kind: 'position', lsn });
  }

  pushDeadLetter(letter: DeadLetter): void {
    this.items.push({ kind: 'dead-letter', letter });
  }

  /**
   * Takes up to `maxEvents` events from the front, with the positions and dead letters
   * among them and those right after the last one taken (so a batch that holds a
   * transaction's last event also carries its commit).
   */
  take(maxEvents: number): TakenRun {
    const events: ChangeEvent[] = [];
    const deadLetters: DeadLetter[] = [];
    let position: Lsn | undefined;
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      if (item.kind === 'event') {
        if (events.length >= maxEvents) break;
        events.push(item.event);
      } else if (item.kind === 'position') {
        position = item.lsn;
      } else {
        deadLetters.push(item.letter);
      }
      this.head++;
    }
    this.events -= events.length;
    this.compact();
    return { events, position, deadLetters };
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.events = 0;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }
}
