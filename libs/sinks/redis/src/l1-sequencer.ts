import { randomUUID } from 'node:crypto';

interface ChannelState {
  /** Last seq handed out on this channel in the current stream (0: none yet). */
  seq: number;
  /** When the channel last carried a message (invalidation or heartbeat), ms since the epoch. */
  lastSentMs: number;
  /** Publishes of this channel that have been sent and not yet answered. */
  inFlight: number;
}

/**
 * The v2 numbering of one publishing worker run: a stream id and, per channel, the last
 * seq handed out and whether a publish is in flight (heartbeats wait for it, see
 * L1Heartbeater). Pure bookkeeping, no I/O.
 *
 * A seq once handed out is never handed out again in the same stream, even when its publish
 * failed: a subscriber then sees a jump and flushes its L1, which is what a message that may
 * or may not have arrived calls for. The set of channels is bounded; tracking one more than
 * `maxChannels` starts a new stream (every channel's seq starts again at 1), which
 * subscribers adopt like a worker restart, instead of reusing a number they already saw.
 */
export class L1Sequencer {
  private streamId = randomUUID();
  private readonly channels = new Map<string, ChannelState>();

  constructor(private readonly maxChannels = 1000) {}

  get stream(): string {
    return this.streamId;
  }

  /** A new stream: what a (re)started worker run publishes under. */
  restart(): void {
    this.streamId = randomUUID();
    this.channels.clear();
  }

  /**
   * The next seq of `channel`, recorded as sent now and in flight until `done()` is called
   * (when Redis answered the publish, whatever it said).
   */
  take(channel: string, nowMs: number): { readonly seq: number; done(): void } {
    const state = this.state(channel);
    state.lastSentMs = nowMs;
    state.inFlight++;
    let settled = false;
    return {
      seq: ++state.seq,
      done: () => {
        if (settled) return;
        settled = true;
        state.inFlight--;
      },
    };
  }

  /** Makes sure a configured channel is tracked (heartbeats from the start, before its first message). */
  track(channel: string): void {
    this.state(channel);
  }

  /**
   * Channels due a heartbeat: no message for at least `intervalMs` and no publish in flight
   * (a heartbeat must not overtake the messages whose seq it would announce). Each is
   * recorded as sent now, with the seq the heartbeat carries.
   */
  takeIdle(nowMs: number, intervalMs: number): Array<{ channel: string; seq: number }> {
    const due: Array<{ channel: string; seq: number }> = [];
    for (const [channel, state] of this.channels) {
      if (state.inFlight > 0 || nowMs - state.lastSentMs < intervalMs) continue;
      state.lastSentMs = nowMs;
      due.push({ channel, seq: state.seq });
    }
    return due;
  }

  lastSeq(channel: string): number {
    return this.channels.get(channel)?.seq ?? 0;
  }

  private state(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (state) return state;
    // Only possible with channels rendered from row values; see the class comment. Messages
    // already queued on the connection still arrive before the new stream's first ones.
    if (this.channels.size >= this.maxChannels) this.restart();
    // A new channel has been silent so far: its first heartbeat is due at once.
    state = { seq: 0, lastSentMs: -Infinity, inFlight: 0 };
    this.channels.set(channel, state);
    return state;
  }
}
