/**
 * Confirms only the highest *contiguous* completed position.
 *
 * A source registers every unit of work it hands out, in source order, with the
 * position it may confirm once that unit and everything before it is done. Units
 * that end mid-transaction (chunks of a huge transaction) carry no position: the
 * transaction becomes confirmable only when its final chunk completes. Units may
 * complete in any order; the checkpoint never jumps over an unfinished one.
 */
export class CheckpointTracker<P> {
  private readonly queue: Array<{ ticket: number; position: P | undefined; done: boolean }> = [];
  private head = 0;
  private nextTicket = 0;
  private confirmedPosition: P | undefined;

  constructor(initial?: P) {
    this.confirmedPosition = initial;
  }

  /** Registers the next unit of work; returns the ticket to pass to `complete`. */
  track(position: P | undefined): number {
    const ticket = this.nextTicket++;
    this.queue.push({ ticket, position, done: false });
    return ticket;
  }

  /**
   * Marks a unit done. Returns the new confirmed position if it advanced, else undefined.
   * Completing an unknown or already-completed ticket is a no-op (e.g. an ack that
   * arrives after a reconnect reset the tracker).
   */
  complete(ticket: number): P | undefined {
    const index = this.head + (ticket - (this.queue[this.head]?.ticket ?? ticket));
    const entry = this.queue[index];
    if (!entry || entry.ticket !== ticket || entry.done) return undefined;
    entry.done = true;
    let advanced: P | undefined;
    while (this.head < this.queue.length && this.queue[this.head].done) {
      const p = this.queue[this.head].position;
      if (p !== undefined) advanced = p;
      this.head++;
    }
    // Compact occasionally so the array does not grow with the stream.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (advanced !== undefined) this.confirmedPosition = advanced;
    return advanced;
  }

  /** The highest position whose work, and all work before it, is complete. */
  get confirmed(): P | undefined {
    return this.confirmedPosition;
  }

  /** Units handed out and not yet completed. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /** Forgets in-flight work (after a reconnect the source re-delivers from its durable position). */
  reset(confirmed?: P): void {
    this.queue.length = 0;
    this.head = 0;
    if (confirmed !== undefined) this.confirmedPosition = confirmed;
  }
}
