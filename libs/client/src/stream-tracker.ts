/**
 * Gap detection for v2 L1 messages (CLIENT-PROTOCOL.md), pure: per channel it remembers
 * the last seq of the last few streams (one stream per publishing worker process).
 *
 * - Right after a (re)subscribe the first message is adopted whatever its seq: the
 *   subscribe itself flushed L1, so what came before does not matter.
 * - Same stream: an invalidate with seq <= last is a duplicate, last+1 is in order, more is
 *   a gap; a heartbeat (carrying the current last seq) with seq > last is a gap (we lost
 *   the stream's latest message).
 * - A stream not seen before: seq 1 (heartbeat: 0) is a new worker process, adopted;
 *   anything higher means we missed its first messages: a gap.
 */
export type SeqVerdict = 'in-order' | 'duplicate' | 'gap';

export class StreamTracker {
  private readonly channels = new Map<string, { adoptNext: boolean; streams: Map<string, number> }>();

  constructor(private readonly streamsPerChannel = 4) {}

  /** Forget everything about the channel and adopt its next message (call on every (re)subscribe). */
  reset(channel: string): void {
    this.channels.set(channel, { adoptNext: true, streams: new Map() });
  }

  observe(channel: string, stream: string, seq: number, type: 'invalidate' | 'heartbeat'): SeqVerdict {
    let state = this.channels.get(channel);
    if (!state) {
      state = { adoptNext: true, streams: new Map() };
      this.channels.set(channel, state);
    }
    const last = state.streams.get(stream);
    if (last === undefined) {
      const adopt = state.adoptNext || seq === (type === 'invalidate' ? 1 : 0);
      state.adoptNext = false;
      this.remember(state.streams, stream, seq);
      return adopt ? 'in-order' : 'gap';
    }
    state.adoptNext = false;
    if (type === 'heartbeat') {
      if (seq <= last) return 'in-order';
      this.remember(state.streams, stream, seq);
      return 'gap';
    }
    if (seq <= last) return 'duplicate';
    this.remember(state.streams, stream, seq);
    return seq === last + 1 ? 'in-order' : 'gap';
  }

  private remember(streams: Map<string, number>, stream: string, seq: number): void {
    streams.delete(stream); // re-insert: Map order = least recently heard first
    streams.set(stream, seq);
    while (streams.size > this.streamsPerChannel) streams.delete(streams.keys().next().value as string);
  }
}
