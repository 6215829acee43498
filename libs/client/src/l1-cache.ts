import { LRUCache } from 'lru-cache';
import { compileGlob } from '@cdc/protocol';

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
}

/** What the LRU holds: the entry and when it must be gone (its staleUntil, capped by maxTtlMs). */
interface Stored extends L1Entry {
  readonly dropAt: number;
}

/** Bounded in-process cache with a tag index and Redis-glob pattern eviction (the worker's glob, from @cdc/protocol). */
export class L1Cache {
  private readonly lru: LRUCache<string, Stored>;
  private readonly tagIndex = new Map<string, Set<string>>();
  private readonly pending = new Map<string, Set<PendingFill>>();

  constructor(private readonly options: L1CacheOptions) {
    // No lru-cache TTLs: expiry is checked on read against dropAt (cheaper on the hit path);
    // expired entries left unread are evicted by the LRU bounds like any cold entry.
    this.lru = new LRUCache<string, Stored>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (e) => Math.max(1, e.size),
      dispose: (entry, key) => this.unindex(key, entry),
    });
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** The entry, expired or not (the caller decides about grace); undefined when absent. */
  peek(key: string, now = Date.now()): L1Entry | undefined {
    const e = this.lru.get(key);
    if (e === undefined || e.dropAt > now) return e;
    this.lru.delete(key);
    return undefined;
  }

  beginFill(key: string, tags: readonly string[] | undefined): PendingFill {
    const fill = new PendingFill(key, tags);
    let set = this.pending.get(key);
    if (!set) this.pending.set(key, (set = new Set()));
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
    return this.store(fill.key, entry, now);
  }

  /** Stores at once (a local write whose value is known to be current). */
  store(key: string, entry: L1Entry, now: number): boolean {
    const dropAt = Math.min(entry.staleUntil, now + this.options.maxTtlMs);
    if (dropAt <= now || entry.size > this.options.maxBytes) return false;
    this.lru.set(key, { ...entry, dropAt });
    for (const tag of entry.tags) {
      let keys = this.tagIndex.get(tag);
      if (!keys) this.tagIndex.set(tag, (keys = new Set()));
      keys.add(key);
    }
    return true;
  }

  evictKeys(keys: Iterable<string>): void {
    for (const key of keys) {
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
      for (const key of [...this.lru.keys()]) if (matches(key)) this.lru.delete(key);
      for (const key of this.pending.keys()) if (matches(key)) this.cancelPending(key);
    }
  }

  /** Drops everything and cancels every fill in flight. */
  flush(): void {
    this.lru.clear();
    this.tagIndex.clear();
    for (const fills of this.pending.values()) for (const f of fills) f.cancelled = true;
  }

  private cancelPending(key: string): void {
    const fills = this.pending.get(key);
    if (fills) for (const f of fills) f.cancelled = true;
  }

  private unindex(key: string, entry: L1Entry): void {
    for (const tag of entry.tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.tagIndex.delete(tag);
    }
  }
}
