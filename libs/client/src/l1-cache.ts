import { LRUCache } from 'lru-cache';
import { compileGlob } from '@cdc/protocol';
import { coarseNow, coarsePerf } from './coarse-clock';

/** One L1 entry: the deserialized value and what invalidations need to find it. */
export interface L1Entry {
  readonly value: unknown;
  /** A negative ("not found") entry. */
  readonly negative: boolean;
  readonly tags: readonly string[];
  /** Logical expiry (ms since the epoch); past it the entry is stale (servable only under grace). */
  readonly expiresAt: number;
  /** Past this the entry is gone (expiresAt + the grace it was stored with). */
  readonly staleUntil: number;
  /** Size estimate in bytes (the serialized length). */
  readonly size: number;
}

/**
 * An L1 write in progress (an L2 read or a loader run). node-redis client-side caching's
 * rule: an invalidation of the key, one of its tags, a pattern matching it, or a flush that
 * happens while the fill is in flight cancels it, so a value read before the invalidation is
 * never stored after it.
 */
export class PendingFill {
  cancelled = false;
  constructor(
    readonly key: string,
    /** undefined = not known yet (a plain get reads them from L2): any tag eviction cancels the fill. */
    readonly tags: readonly string[] | undefined,
  ) {}
}

export interface L1CacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxTtlMs: number;
  /**
   * The client's key prefix. L1 is keyed by the key without it, so a hit (`freshLocal`) does not
   * build the full key (a string concatenation was a sixth of an L1 hit). Every other method takes full keys.
   */
  readonly keyPrefix?: string;
}

/** What L1 stores for a negative ("not found") entry; lru-cache cannot hold undefined. */
const NEGATIVE: unique symbol = Symbol('cdc-l1-negative');

/**
 * What L1 stores for an entry kept past its expiry for grace (stale-while-revalidate): the
 * logical expiry must be checked on read. Every other entry is stored as its bare value and
 * its lru-cache TTL is its expiry, so a hit reads nothing but the value.
 */
class Graced {
  constructor(
    readonly value: unknown,
    readonly expiresAt: number,
  ) {}
}

/** `freshLocal()`'s answer when L1 cannot serve the key (absent, or expired and only servable under grace). */
export const L1_MISS: unique symbol = Symbol('cdc-l1-miss');

/** An L1 entry as the slower paths see it (mget, grace, tests). */
export interface L1View {
  readonly value: unknown;
  readonly negative: boolean;
  /** False only for an entry past its expiry, kept for grace. */
  readonly fresh: boolean;
}

type Stored = NonNullable<unknown> | typeof NEGATIVE | Graced;

/** lru-cache's get() writes `status` into its options object: one shared object instead of one per call. */
const GET_OPTIONS: LRUCache.GetOptions<string, Stored, unknown> = {};

/** Bounded in-process cache with a tag index and Redis-glob pattern eviction (the worker's glob, from @cdc/protocol). */
export class L1Cache {
  private readonly lru: LRUCache<string, Stored>;
  private readonly tagIndex = new Map<string, Set<string>>();
  /** Tags of the tagged entries (for the index on eviction); untagged entries have none here. */
  private readonly tagsOf = new Map<string, readonly string[]>();
  private readonly pending = new Map<string, Set<PendingFill>>();

  private readonly prefix: string;

  constructor(private readonly options: L1CacheOptions) {
    this.prefix = options.keyPrefix ?? '';
    // lru-cache enforces the TTL (the entry's expiry, or its grace end, capped by maxTtlMs)
    // inside get(), on its monotonic typed-array bookkeeping, against our coarse clock.
    this.lru = new LRUCache<string, Stored>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttlResolution: 0,
      perf: coarsePerf,
      dispose: (_value, key) => this.unindex(key),
    });
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /**
   * The hit path, by the key without the prefix: the value (undefined for a negative entry) if
   * L1 may serve it now, else L1_MISS.
   * Only a fresh entry is served (grace is the caller's decision, through peek()).
   */
  freshLocal(localKey: string): unknown {
    const v = this.lru.get(localKey, GET_OPTIONS);
    if (v === undefined) return L1_MISS;
    if (v === NEGATIVE) return undefined;
    if (v instanceof Graced) {
      if (v.expiresAt <= coarseNow()) return L1_MISS;
      return v.value === NEGATIVE ? undefined : v.value;
    }
    return v;
  }

  /** The entry, expired (kept for grace) or not; undefined when absent or past the hard max TTL. */
  peek(key: string): L1View | undefined {
    const local = this.local(key);
    if (local === undefined) return undefined;
    const v = this.lru.get(local, GET_OPTIONS);
    if (v === undefined) return undefined;
    if (v instanceof Graced) return { value: v.value === NEGATIVE ? undefined : v.value, negative: v.value === NEGATIVE, fresh: v.expiresAt > Date.now() };
    return { value: v === NEGATIVE ? undefined : v, negative: v === NEGATIVE, fresh: true };
  }

  beginFill(key: string, tags: readonly string[] | undefined): PendingFill {
    const local = this.local(key);
    const fill = new PendingFill(local ?? key, tags);
    // A key outside the prefix is never stored (it could not be found by its local key).
    if (local === undefined) {
      fill.cancelled = true;
      return fill;
    }
    // Keyed like the LRU, without the prefix: evictKeys, evictPatterns and abandonFill look it up
    // by the local key. (Keyed by the full key, a key message never cancelled a fill in flight
    // and abandoned fills were never dropped, whenever the client had a keyPrefix.)
    let set = this.pending.get(local);
    if (!set) this.pending.set(local, (set = new Set()));
    set.add(fill);
    return fill;
  }

  /** Ends a fill without storing (the read failed or was not cacheable). */
  abandonFill(fill: PendingFill): void {
    const set = this.pending.get(fill.key);
    if (!set) return;
    set.delete(fill);
    if (set.size === 0) this.pending.delete(fill.key);
  }

  /** Stores the entry unless an invalidation cancelled the fill meanwhile. Returns whether it was stored. */
  commitFill(fill: PendingFill, entry: L1Entry, now: number): boolean {
    this.abandonFill(fill);
    if (fill.cancelled) return false;
    return this.storeLocal(fill.key, entry, now);
  }

  /** Stores at once (a local write whose value is known to be current). */
  store(key: string, entry: L1Entry, now: number): boolean {
    const local = this.local(key);
    return local !== undefined && this.storeLocal(local, entry, now);
  }

  private storeLocal(key: string, entry: L1Entry, now: number): boolean {
    const dropAt = Math.min(entry.staleUntil, now + this.options.maxTtlMs);
    if (dropAt <= now || entry.size > this.options.maxBytes) return false;
    const bare = entry.negative || entry.value === undefined ? NEGATIVE : (entry.value as NonNullable<unknown>);
    const stored = entry.staleUntil > entry.expiresAt && dropAt > entry.expiresAt ? new Graced(bare, entry.expiresAt) : bare;
    this.unindex(key);
    this.lru.set(key, stored, { ttl: dropAt - now, size: Math.max(1, entry.size) });
    if (entry.tags.length > 0) {
      this.tagsOf.set(key, entry.tags);
      for (const tag of entry.tags) {
        let keys = this.tagIndex.get(tag);
        if (!keys) this.tagIndex.set(tag, (keys = new Set()));
        keys.add(key);
      }
    }
    return true;
  }

  evictKeys(keys: Iterable<string>): void {
    for (const full of keys) {
      const key = this.local(full);
      if (key === undefined) continue;
      this.lru.delete(key);
      this.cancelPending(key);
    }
  }

  evictTags(tags: Iterable<string>): void {
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (keys) for (const key of [...keys]) this.lru.delete(key);
      for (const fills of this.pending.values()) for (const f of fills) if (f.tags === undefined || f.tags.includes(tag)) f.cancelled = true;
    }
  }

  evictPatterns(patterns: Iterable<string>): void {
    for (const pattern of patterns) {
      const matches = compileGlob(pattern);
      const p = this.prefix;
      for (const key of [...this.lru.keys()]) if (matches(p + key)) this.lru.delete(key);
      for (const key of this.pending.keys()) if (matches(p + key)) this.cancelPending(key);
    }
  }

  /** Drops everything and cancels every fill in flight. */
  flush(): void {
    this.lru.clear();
    this.tagIndex.clear();
    this.tagsOf.clear();
    for (const fills of this.pending.values()) for (const f of fills) f.cancelled = true;
  }

  /** The key without the prefix; undefined for a key outside it (never in L1). */
  private local(full: string): string | undefined {
    if (this.prefix === '') return full;
    return full.startsWith(this.prefix) ? full.slice(this.prefix.length) : undefined;
  }

  private cancelPending(key: string): void {
    const fills = this.pending.get(key);
    if (fills) for (const f of fills) f.cancelled = true;
  }

  private unindex(key: string): void {
    const tags = this.tagsOf.get(key);
    if (tags === undefined) return;
    this.tagsOf.delete(key);
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.tagIndex.delete(tag);
    }
  }
}
