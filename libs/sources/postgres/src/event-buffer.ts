import { ChangeEvent, DeadLetter } from '@cdc/core';
import { Lsn } from './lsn';

/**
 * The bounded FIFO between the replication socket and `read()`. It holds, in stream
 * order, change events, positions reached (a commit's end LSN, or an idle keepalive's
 * WAL end) and dead letters. Positions and dead letters ride in the queue rather than
 * being handled on arrival because they must be registered with the CheckpointTracker
 * after every event queued before them.
 *
 * Events are queued as they are (one per row: no wrapper object); positions and dead
 * letters, one per transaction at most, are wrapped in marker classes.
 */

class PositionItem {
  constructor(readonly lsn: Lsn) {}
}

class DeadLetterItem {
  constructor(readonly letter: DeadLetter) {}
}

type Item = ChangeEvent | PositionItem | DeadLetterItem;

export interface TakenRun {
  readonly events: ChangeEvent[];
  /** The last position passed while taking: confirmable once these events (and all before) are done. */
  readonly position: Lsn | undefined;
  /** Dead letters passed while taking, in order. */
  readonly deadLetters: DeadLetter[];
}

const NO_LETTERS: DeadLetter[] = [];

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
    this.items.push(event);
    this.events++;
  }

  pushPosition(lsn: Lsn): void {
    this.items.push(new PositionItem(lsn));
  }

  pushDeadLetter(letter: DeadLetter): void {
    this.items.push(new DeadLetterItem(letter));
  }

  /**
   * Takes up to `maxEvents` events from the front, with the positions and dead letters
   * among them and those right after the last one taken (so a batch that holds a
   * transaction's last event also carries its commit).
   */
  take(maxEvents: number): TakenRun {
    const events: ChangeEvent[] = [];
    let deadLetters = NO_LETTERS;
    let position: Lsn | undefined;
    const items = this.items;
    let head = this.head;
    while (head < items.length) {
      const item = items[head];
      if (item instanceof PositionItem) {
        position = item.lsn;
      } else if (item instanceof DeadLetterItem) {
        if (deadLetters === NO_LETTERS) deadLetters = [];
        deadLetters.push(item.letter);
      } else {
        if (events.length >= maxEvents) break;
        events.push(item);
      }
      head++;
    }
    this.head = head;
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
