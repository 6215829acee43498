import { CdnProvider } from '@cdc/core';
import { OutboxEntry, PurgeItem, PurgeKind, compareEntryIds } from './outbox-entry';

/**
 * Pure planning: a target's coalesced outbox entries → provider requests. Deduplicates
 * items across entries, collapses storms under one directory into one wildcard/prefix,
 * drops items a wildcard/prefix in the same plan already covers, and chunks to the
 * provider's per-request limits. Deterministic (same entries → same requests), which the
 * CloudFront CallerReference relies on.
 */
export interface PlanLimits {
  /** cloudflare `files` per request. */
  readonly maxUrlsPerRequest: number;
  /** cloudflare tags/hosts/prefixes per request. */
  readonly maxItemsPerRequest: number;
  /** cloudfront paths per invalidation. */
  readonly maxPathsPerRequest: number;
  /** cloudfront wildcard paths per invalidation. */
  readonly maxWildcardsPerRequest: number;
  /** More than this many items under one directory collapse into one wildcard/prefix; 0 disables. */
  readonly collapseThreshold: number;
}

export interface PlannedRequest {
  readonly provider: CdnProvider;
  readonly target: string;
  readonly kind: PurgeKind;
  readonly items: readonly PurgeItem[];
  /** Outbox entries this request serves, sorted. */
  readonly entryIds: readonly string[];
}

export interface PurgePlan {
  readonly requests: readonly PlannedRequest[];
  /** Wildcard/prefix purges created by collapsing. */
  readonly collapsed: number;
  /** Items before dedup/collapse (what a naive one-item-per-request client would send). */
  readonly itemsIn: number;
}

interface Slot {
  item: PurgeItem;
  entryIds: Set<string>;
}

export function planPurges(provider: CdnProvider, target: string, entries: readonly OutboxEntry[], limits: PlanLimits): PurgePlan {
  const sorted = [...entries].sort((a, b) => compareEntryIds(a.id, b.id));
  const byKind = new Map<PurgeKind, Map<string, Slot>>();
  let itemsIn = 0;
  for (const entry of sorted) {
    for (const item of entry.purges) {
      itemsIn++;
      let slots = byKind.get(item.kind);
      if (!slots) byKind.set(item.kind, (slots = new Map()));
      const key = itemKey(item);
      let slot = slots.get(key);
      if (!slot) slots.set(key, (slot = { item, entryIds: new Set() }));
      slot.entryIds.add(entry.id);
    }
  }

  let collapsed = 0;
  if (provider === 'cloudfront') {
    const paths = byKind.get('paths');
    if (paths) collapsed += collapseInto(paths, paths, limits.collapseThreshold, cloudfrontDirectory, (dir) => ({ kind: 'paths', value: `${dir}*` }));
    if (paths) dropCovered(paths, paths, (wildcard) => (wildcard.endsWith('*') ? wildcard.slice(0, -1) : undefined), (p) => p);
  } else {
    const files = byKind.get('files');
    if (files) {
      let prefixes = byKind.get('prefixes');
      if (!prefixes) byKind.set('prefixes', (prefixes = new Map()));
      collapsed += collapseInto(files, prefixes, limits.collapseThreshold, cloudflareDirectory, (dir) => ({ kind: 'prefixes', value: dir }));
      dropCovered(files, prefixes, (prefix) => prefix, urlWithoutScheme);
      if (prefixes.size === 0) byKind.delete('prefixes');
      if (files.size === 0) byKind.delete('files');
    }
  }

  const requests: PlannedRequest[] = [];
  for (const kind of [...byKind.keys()].sort()) {
    const slots = [...byKind.get(kind)!.values()].sort((a, b) => cmp(itemKey(a.item), itemKey(b.item)));
    for (const chunk of chunkSlots(provider, kind, slots, limits)) {
      const ids = new Set<string>();
      for (const s of chunk) for (const id of s.entryIds) ids.add(id);
      requests.push({ provider, target, kind, items: chunk.map((s) => s.item), entryIds: [...ids].sort(compareEntryIds) });
    }
  }
  return { requests, collapsed, itemsIn };
}

function chunkSlots(provider: CdnProvider, kind: PurgeKind, slots: Slot[], limits: PlanLimits): Slot[][] {
  const out: Slot[][] = [];
  if (provider === 'cloudfront') {
    // Both limits per invalidation: total paths, and wildcard paths (15 in progress per distribution).
    let current: Slot[] = [];
    let wildcards = 0;
    for (const s of slots) {
      const isWildcard = s.item.value.endsWith('*');
      if (current.length >= limits.maxPathsPerRequest || (isWildcard && wildcards >= limits.maxWildcardsPerRequest)) {
        out.push(current);
        current = [];
        wildcards = 0;
      }
      current.push(s);
      if (isWildcard) wildcards++;
    }
    if (current.length) out.push(current);
    return out;
  }
  const size = kind === 'files' ? limits.maxUrlsPerRequest : limits.maxItemsPerRequest;
  for (let i = 0; i < slots.length; i += size) out.push(slots.slice(i, i + size));
  return out;
}

/**
 * Groups `from` by directory; a directory holding more than `threshold` items becomes one
 * wildcard/prefix in `into`. Never collapses to a whole site (the root directory): that
 * would be a purge-everything by accident.
 */
function collapseInto(
  from: Map<string, Slot>,
  into: Map<string, Slot>,
  threshold: number,
  directoryOf: (value: string) => string | undefined,
  wildcard: (dir: string) => PurgeItem,
): number {
  if (threshold <= 0) return 0;
  const byDir = new Map<string, string[]>();
  for (const [key, slot] of from) {
    if (slot.item.value.endsWith('*')) continue;
    const dir = directoryOf(slot.item.value);
    if (dir === undefined) continue;
    let keys = byDir.get(dir);
    if (!keys) byDir.set(dir, (keys = []));
    keys.push(key);
  }
  let collapsed = 0;
  for (const [dir, keys] of byDir) {
    if (keys.length <= threshold) continue;
    const item = wildcard(dir);
    const k = itemKey(item);
    let target = into.get(k);
    if (!target) into.set(k, (target = { item, entryIds: new Set() }));
    for (const key of keys) {
      for (const id of from.get(key)!.entryIds) target.entryIds.add(id);
      from.delete(key);
    }
    collapsed++;
  }
  return collapsed;
}

/** Removes items already covered by a wildcard/prefix; their entries ride on the wildcard's request. */
function dropCovered(
  items: Map<string, Slot>,
  covers: Map<string, Slot>,
  coverPrefix: (value: string) => string | undefined,
  normalize: (value: string) => string | undefined,
): void {
  const prefixes: Array<[string, Slot]> = [];
  for (const slot of covers.values()) {
    const p = coverPrefix(slot.item.value);
    if (p !== undefined) prefixes.push([p, slot]);
  }
  if (prefixes.length === 0) return;
  // Broadest first: a broadest cover is never itself covered, so it is never deleted below.
  prefixes.sort((a, b) => a[0].length - b[0].length || cmp(a[0], b[0]));
  for (const [key, slot] of items) {
    const v = normalize(slot.item.value);
    if (v === undefined) continue;
    const cover = prefixes.find(([p, s]) => s !== slot && v.startsWith(p));
    if (!cover) continue;
    for (const id of slot.entryIds) cover[1].entryIds.add(id);
    items.delete(key);
  }
}

/** `/p/a/b?x=1` → `/p/a/`; root-level paths have no collapsible directory. */
export function cloudfrontDirectory(path: string): string | undefined {
  const noQuery = path.split('?')[0];
  const i = noQuery.lastIndexOf('/');
  return i > 0 ? noQuery.slice(0, i + 1) : undefined;
}

/** `https://shop.example.com/p/x?y` → `shop.example.com/p/` (Cloudflare prefixes carry no scheme). */
export function cloudflareDirectory(url: string): string | undefined {
  const rest = urlWithoutScheme(url);
  if (rest === undefined) return undefined;
  const noQuery = rest.split('?')[0];
  const slash = noQuery.indexOf('/');
  const last = noQuery.lastIndexOf('/');
  return slash !== -1 && last > slash ? noQuery.slice(0, last + 1) : undefined;
}

function urlWithoutScheme(url: string): string | undefined {
  const m = /^https?:\/\/(.*)$/i.exec(url);
  return m ? m[1] : undefined;
}

function itemKey(item: PurgeItem): string {
  const headers = item.headers ? JSON.stringify(Object.entries(item.headers).sort()) : '';
  return `${item.value}\u0000${headers}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
