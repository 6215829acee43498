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
  /** Matches per L1 channel; the per-channel sets are built once, when a sink reads `channels`. */
  private readonly matchesByChannel = new Map<string, RuleMatch[]>();
  private channelPayloads?: Map<string, ChannelPayload>;
  private readonly cdnByIdentity = new Map<string, CdnPurge>();
  /** Matches added, for telling when one channel received every match. */
  private matchCount = 0;
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
    this.matchCount++;
    this.channelPayloads = undefined;
    for (const k of match.keys) this.keys.add(k);
    for (const t of match.tags) this.tags.add(t);
    for (const p of match.patterns) this.patterns.add(p);
    for (const channel of match.channels) {
      const list = this.matchesByChannel.get(channel);
      if (list) list.push(match);
      else this.matchesByChannel.set(channel, [match]);
    }
    for (const purge of match.cdn) this.cdnByIdentity.set(cdnIdentity(purge), purge);
  }

  /**
   * channel → what that channel's subscribers must evict. Built lazily: on the hot path a match
   * is recorded once per channel instead of copying every key into a second set.
   */
  get channels(): ReadonlyMap<string, ChannelPayload> {
    if (!this.channelPayloads) {
      this.channelPayloads = new Map();
      for (const [channel, matches] of this.matchesByChannel) {
        // The common case (every rule publishes to one channel): that channel's payload is the
        // whole batch, so share the batch's sets instead of copying every key once more.
        // Sinks only read payloads, and a batch is not added to once it is being applied.
        if (matches.length === this.matchCount) {
          this.channelPayloads.set(channel, { keys: this.keys, tags: this.tags, patterns: this.patterns });
          continue;
        }
        const payload: ChannelPayload = { keys: new Set(), tags: new Set(), patterns: new Set() };
        for (const m of matches) {
          for (const k of m.keys) payload.keys.add(k);
          for (const t of m.tags) payload.tags.add(t);
          for (const p of m.patterns) payload.patterns.add(p);
        }
        this.channelPayloads.set(channel, payload);
      }
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

export function cdnIdentity(p: CdnPurge): string {
  const headers = p.headers ? JSON.stringify(Object.entries(p.headers).sort()) : '';
  return `${p.provider}\u0000${p.target}\u0000${p.kind}\u0000${p.value}\u0000${headers}`;
}
