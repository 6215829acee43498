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
  /** channel → what that channel's subscribers must evict. */
  readonly channels = new Map<string, ChannelPayload>();
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
    for (const k of match.keys) this.keys.add(k);
    for (const t of match.tags) this.tags.add(t);
    for (const p of match.patterns) this.patterns.add(p);
    for (const channel of match.channels) {
      let payload = this.channels.get(channel);
      if (!payload) {
        payload = { keys: new Set(), tags: new Set(), patterns: new Set() };
        this.channels.set(channel, payload);
      }
      for (const k of match.keys) payload.keys.add(k);
      for (const t of match.tags) payload.tags.add(t);
      for (const p of match.patterns) payload.patterns.add(p);
    }
    for (const purge of match.cdn) this.cdnByIdentity.set(cdnIdentity(purge), purge);
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
