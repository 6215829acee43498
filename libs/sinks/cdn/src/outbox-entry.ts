import { BadEventError, CdnProvider, CdnPurge, InvalidationBatch } from '@cdc/core';

/**
 * The outbox wire format: one Redis Stream entry per (batch, provider, target), a flat
 * field list so `XRANGE` output is readable by an operator. Pure encode/decode.
 */
export type PurgeKind = CdnPurge['kind'];

export interface PurgeItem {
  readonly kind: PurgeKind;
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface OutboxEntry {
  /** Stream entry id (`<ms>-<seq>`). */
  readonly id: string;
  readonly provider: CdnProvider;
  readonly target: string;
  readonly purges: readonly PurgeItem[];
  /** Source position of the batch that produced the entry. */
  readonly position: string;
  /** Commit time (ms) of the oldest transaction in the batch. */
  readonly commitTimeMs: number;
  readonly enqueuedAtMs: number;
  /** Set when an operator re-drove the entry from the dead-letter stream. */
  readonly redriven: boolean;
}

export const OUTBOX_FORMAT_VERSION = '1';

/** Field lists (XADD arguments after the id) for a batch: grouped by provider/target, chunked. */
export function encodeBatch(batch: InvalidationBatch, maxPurgesPerEntry: number, nowMs: number): string[][] {
  const groups = new Map<string, { provider: CdnProvider; target: string; items: PurgeItem[] }>();
  for (const p of batch.cdn) {
    const key = `${p.provider}\u0000${p.target}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { provider: p.provider, target: p.target, items: [] }));
    g.items.push(p.headers ? { kind: p.kind, value: p.value, headers: p.headers } : { kind: p.kind, value: p.value });
  }
  const commitTimeMs = Number.isFinite(batch.firstCommitTimeMs) ? batch.firstCommitTimeMs : nowMs;
  const out: string[][] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.items.length; i += maxPurgesPerEntry) {
      out.push(
        encodeFields({
          provider: g.provider,
          target: g.target,
          purges: g.items.slice(i, i + maxPurgesPerEntry),
          position: batch.lastPosition,
          commitTimeMs,
          enqueuedAtMs: nowMs,
          redriven: false,
        }),
      );
    }
  }
  return out;
}

export function encodeFields(e: Omit<OutboxEntry, 'id'>): string[] {
  const fields = [
    'v', OUTBOX_FORMAT_VERSION,
    'provider', e.provider,
    'target', e.target,
    'purges', JSON.stringify(e.purges),
    'position', e.position,
    'commitTimeMs', String(e.commitTimeMs),
    'enqueuedAtMs', String(e.enqueuedAtMs),
  ];
  if (e.redriven) fields.push('redriven', '1');
  return fields;
}

export function fieldMap(fields: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i], fields[i + 1]);
  return m;
}

const KINDS: Record<CdnProvider, readonly PurgeKind[]> = {
  cloudflare: ['files', 'tags', 'hosts', 'prefixes'],
  cloudfront: ['paths'],
};

/** Decodes a stream entry; throws BadEventError (the entry is dead-lettered) when malformed. */
export function decodeEntry(id: string, fields: readonly string[]): OutboxEntry {
  const f = fieldMap(fields);
  const provider = f.get('provider');
  if (provider !== 'cloudflare' && provider !== 'cloudfront') throw new BadEventError(`outbox entry ${id}: unknown provider "${provider ?? ''}"`);
  const target = f.get('target');
  if (!target) throw new BadEventError(`outbox entry ${id}: missing target`);
  let purges: unknown;
  try {
    purges = JSON.parse(f.get('purges') ?? '');
  } catch {
    throw new BadEventError(`outbox entry ${id}: purges is not JSON`);
  }
  if (!Array.isArray(purges)) throw new BadEventError(`outbox entry ${id}: purges is not an array`);
  for (const p of purges as PurgeItem[]) {
    if (typeof p?.value !== 'string' || !KINDS[provider].includes(p.kind)) {
      throw new BadEventError(`outbox entry ${id}: bad purge item ${JSON.stringify(p).slice(0, 200)}`);
    }
  }
  const commitTimeMs = Number(f.get('commitTimeMs'));
  const enqueuedAtMs = Number(f.get('enqueuedAtMs'));
  return {
    id,
    provider,
    target,
    purges: purges as PurgeItem[],
    position: f.get('position') ?? '',
    commitTimeMs: Number.isFinite(commitTimeMs) ? commitTimeMs : entryIdTimeMs(id),
    enqueuedAtMs: Number.isFinite(enqueuedAtMs) ? enqueuedAtMs : entryIdTimeMs(id),
    redriven: f.get('redriven') === '1',
  };
}

/** Milliseconds part of a stream id. */
export function entryIdTimeMs(id: string): number {
  return Number(id.split('-')[0]);
}

/** Orders stream ids numerically (`<ms>-<seq>`). */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}
