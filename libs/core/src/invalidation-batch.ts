import { CdnPurge, RuleMatch } from './actions';
import { ChangeEvent } from './change-event';

export interface ChannelPayload {
  readonly keys: Set<string>;
  readonly tags: Set<string>;
  readonly patterns: Set<string>;
}

/**
 * A coalesced set of invalidations built from a run of consecutive events.
 * Repeated keys, tags, patterns and purges are kept once. Sinks read it; only the
 * pipeline writes it.
 */
export class InvalidationBatch {
  readonly keys = new Set<string>();
  readonly tags = new Set<string>();
  readonly patterns = new Set<string>();
  /**
   * The channels every match so far named (the common case: every rule publishes to the same
   * channels): each of them gets the whole batch, so nothing is kept per channel. Undefined
   * before the first match that names a channel or carries an action.
   */
  private sharedChannels: readonly string[] | undefined;
  /** Once matches named different channels: each channel's own payload, built as matches arrive. */
  private perChannel: Map<string, ChannelPayload> | undefined;
  private channelPayloads?: Map<string, ChannelPayload>;
  private readonly cdnByIdentity = new Map<string, CdnPurge>();
  /** Number of change events folded in (including ones that matched no rule). */
  eventCount = 0;
  /** Commit times (ms) of the transactions in the batch, first and last, for lag metrics and messages. */
  firstCommitTimeMs = Number.POSITIVE_INFINITY;
  lastCommitTimeMs = 0;
  /** Source position of the last event folded in. */
  lastPosition = '';
  /** Distinct commit times in the batch (one per transaction), for the commit-to-applied histogram. */
  readonly commitTimesMs: number[] = [];
  private lastSeenCommit = '';

  addEvent(event: ChangeEvent): void {
    this.eventCount++;
    this.lastPosition = event.position;
    if (event.position !== this.lastSeenCommit) {
      this.lastSeenCommit = event.position;
      this.commitTimesMs.push(event.commitTimeMs);
    }
    if (event.commitTimeMs < this.firstCommitTimeMs) this.firstCommitTimeMs = event.commitTimeMs;
    if (event.commitTimeMs > this.lastCommitTimeMs) this.lastCommitTimeMs = event.commitTimeMs;
  }

  addMatch(match: RuleMatch): void {
    this.channelPayloads = undefined;
    const { keys, tags, patterns, channels } = match;
    // A match without keys, tags, patterns or channels (CDN only) changes no channel's payload.
    if (keys.length + tags.length + patterns.length + channels.length > 0) this.trackChannels(match);
    for (let i = 0; i < keys.length; i++) this.keys.add(keys[i]);
    for (let i = 0; i < tags.length; i++) this.tags.add(tags[i]);
    for (let i = 0; i < patterns.length; i++) this.patterns.add(patterns[i]);
    for (const purge of match.cdn) this.cdnByIdentity.set(cdnIdentity(purge), purge);
  }

  /** Before the match's items join the batch's sets: keeps `channels` exact without copying on the common path. */
  private trackChannels(match: RuleMatch): void {
    if (this.perChannel === undefined) {
      if (this.sharedChannels === undefined) {
        // Kept as given when it has no repeats, so the next match's identical (constant) list compares by reference.
        this.sharedChannels = new Set(match.channels).size === match.channels.length ? match.channels : [...new Set(match.channels)];
        return;
      }
      if (sameChannels(this.sharedChannels, match.channels)) return;
      // The first match whose channels differ: so far each shared channel heard everything.
      this.perChannel = new Map();
      for (const channel of this.sharedChannels) {
        this.perChannel.set(channel, { keys: new Set(this.keys), tags: new Set(this.tags), patterns: new Set(this.patterns) });
      }
    }
    for (const channel of match.channels) {
      let payload = this.perChannel.get(channel);
      if (!payload) this.perChannel.set(channel, (payload = { keys: new Set(), tags: new Set(), patterns: new Set() }));
      for (const k of match.keys) payload.keys.add(k);
      for (const t of match.tags) payload.tags.add(t);
      for (const p of match.patterns) payload.patterns.add(p);
    }
  }

  /** channel → what that channel's subscribers must evict. Sinks only read payloads. */
  get channels(): ReadonlyMap<string, ChannelPayload> {
    if (this.perChannel) return this.perChannel;
    if (!this.channelPayloads) {
      this.channelPayloads = new Map();
      // Every match named these channels: their payload is the whole batch, shared, not copied.
      const whole: ChannelPayload = { keys: this.keys, tags: this.tags, patterns: this.patterns };
      for (const channel of this.sharedChannels ?? []) this.channelPayloads.set(channel, whole);
    }
    return this.channelPayloads;
  }

  get cdn(): CdnPurge[] {
    return [...this.cdnByIdentity.values()];
  }

  get cdnCount(): number {
    return this.cdnByIdentity.size;
  }

  get isEmpty(): boolean {
    return this.keys.size === 0 && this.tags.size === 0 && this.patterns.size === 0 && this.cdnByIdentity.size === 0;
  }
}

/** Same channels, in any order (`shared` has no repeats). */
function sameChannels(shared: readonly string[], channels: readonly string[]): boolean {
  if (shared === channels) return true;
  for (const c of channels) if (!shared.includes(c)) return false;
  for (const c of shared) if (!channels.includes(c)) return false;
  return true;
}

export function cdnIdentity(p: CdnPurge): string {
  const headers = p.headers ? JSON.stringify(Object.entries(p.headers).sort()) : '';
  return `${p.provider}\u0000${p.target}\u0000${p.kind}\u0000${p.value}\u0000${headers}`;
}
