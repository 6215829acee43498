import { EventEmitter } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import { L1InvalidateMessageV2, L1InvalidationMessage, buildL1Messages, isReservedKey } from '@cdc/protocol';
import { CacheStats, registerCacheMetrics, unregisterCacheMetrics } from './client-metrics';
import { DecodedEntry, decodeEntry, encodeEntry } from './entry-codec';
import { CacheClosedError, CacheConfigError, CacheSerializationError, CacheUnavailableError } from './errors';
import { FillRunner, SharedLoad } from './fill-runner';
import { L1Cache, L1Entry, L1_MISS, PendingFill } from './l1-cache';
import { InvalidationListener, L1Subscriber } from './l1-subscriber';
import { L2Store, toCacheError } from './l2-store';
import type { CacheClientEvents, CacheClientOptions, FlushReason, GetOrSetOptions, Loader, MessageOutcome, SetOptions } from './options';
import { Serializer, jsonSerializer, serializeOrThrow } from './serializer';

const EMPTY: readonly string[] = [];

/**
 * The facade: read-through L1 (in-process) over L2 (Redis), filled under leases the worker
 * revokes, with an L1 that is used only while its subscriber can hear invalidations.
 *
 *   const cache = new CacheClient({ redis, keyPrefix: 'shop:', subscriber: { channels: ['cache-invalidation'] } });
 *   await cache.connect();
 *   const product = await cache.getOrSet(`product:${id}`, () => db.product(id), { ttlMs: 60_000, tags: [`product-${id}`] });
 *
 * Values are returned as stored: treat them as immutable (an L1 hit returns the same object to every caller).
 */
export class CacheClient extends EventEmitter<CacheClientEvents> {
  private readonly keyPrefix: string;
  private readonly defaultTtlMs: number;
  private readonly serializer: Serializer;
  private readonly l1: L1Cache | undefined;
  private readonly subscriber: L1Subscriber | undefined;
  private readonly l2: L2Store;
  private readonly fills: FillRunner;
  private readonly counters = new CacheStats();
  private readonly hits = this.counters.hits;
  /** L1 may be read and written: it exists and invalidations can be heard (or the app accepted l1Unsafe). */
  private l1Usable: boolean;
  private closed = false;
  /** Someone listens to hit/miss: only then is an event object built on the hot path. */
  private observed = false;

  constructor(private readonly options: CacheClientOptions) {
    super();
    (this as EventEmitter).on('newListener', (event: string) => {
      if (event === 'hit' || event === 'miss') this.observed = true;
    });
    const redisOptions = (options.redis as Cluster).isCluster ? (options.redis as Cluster).options.redisOptions : (options.redis as Redis).options;
    if (redisOptions?.keyPrefix) {
      throw new CacheConfigError('the Redis client has an ioredis keyPrefix; use CacheClientOptions.keyPrefix instead (leases and tag sets must not be prefixed)');
    }
    this.keyPrefix = options.keyPrefix ?? '';
    this.defaultTtlMs = positive(options.defaultTtlMs, 60_000, 'defaultTtlMs');
    this.serializer = options.serializer ?? jsonSerializer;
    const timeoutMs = positive(options.redisTimeoutMs, 1000, 'redisTimeoutMs');
    this.l2 = new L2Store(options.redis, options.tagPrefix ?? 'cdc:tag:', timeoutMs);
    if (options.l1 !== false) {
      const l1 = options.l1 ?? {};
      this.l1 = new L1Cache({
        maxEntries: positive(l1.maxEntries, 10_000, 'l1.maxEntries'),
        maxBytes: positive(l1.maxBytes, 64 * 1024 * 1024, 'l1.maxBytes'),
        maxTtlMs: positive(l1.maxTtlMs, 60_000, 'l1.maxTtlMs'),
        keyPrefix: this.keyPrefix,
      });
    }
    if (options.subscriber) this.subscriber = new L1Subscriber(options.redis, options.subscriber, this.listener());
    this.l1Usable = this.l1 !== undefined && !this.subscriber && options.l1Unsafe === true;
    this.fills = new FillRunner({
      l2: this.l2,
      stats: this.counters,
      events: this,
      leaseTtlMs: positive(options.leaseTtlMs, 10_000, 'leaseTtlMs'),
      leaseWaitMs: nonNegative(options.leaseWaitMs, 2000, 'leaseWaitMs'),
      defaultTtlMs: this.defaultTtlMs,
    });
    if (options.registry) {
      registerCacheMetrics(options.registry, options.name ?? 'default', this.counters, () => ({ entries: this.l1?.size ?? 0, bytes: this.l1?.bytes ?? 0 }), () => this.l1 !== undefined && !this.l1Usable);
    }
  }

  /** Starts the invalidation subscriber (if configured). L1 is bypassed until it hears the worker. */
  async connect(): Promise<void> {
    await this.subscriber?.start();
  }

  /** Counters behind the metrics, for tests and diagnostics. */
  stats(): Readonly<CacheStats> {
    return this.counters;
  }

  /** True while L1 is configured but not used because invalidations cannot be heard. */
  get l1Bypassed(): boolean {
    return this.l1 !== undefined && !this.l1Usable;
  }

  /** The full Redis key for an API key (the key prefix prepended). */
  fullKey(key: string): string {
    return this.keyPrefix + key;
  }

  /** The value, or undefined on a miss (also for a negative entry). Redis failing counts as a miss (event `degraded`). */
  get<T = unknown>(key: string): Promise<T | undefined> {
    // Not async: an L1 hit costs an lru-cache lookup (TTL checked inside it) and one resolved promise.
    // L1 is keyed without the prefix: a hit builds no string.
    if (this.closed) return Promise.reject(new CacheClosedError());
    if (this.l1Usable) {
      const v = this.l1!.freshLocal(key);
      if (v !== L1_MISS) {
        this.hits.l1++;
        if (this.observed) this.emit('hit', { key: this.keyPrefix + key, layer: 'l1' });
        return Promise.resolve(v as T | undefined);
      }
      this.counters.misses.l1++;
      if (this.observed) this.emit('miss', { key: this.keyPrefix + key, layer: 'l1' });
    }
    return this.getFromL2<T>(this.keyPrefix + key);
  }

  /** Not async: the reply is decoded in the GET's own promise hop (L2Store.getThen). */
  private getFromL2<T>(full: string): Promise<T | undefined> {
    const pending = this.beginL1Fill(full, undefined);
    return this.l2.getThen<T | undefined>(
      full,
      (raw) => {
        const entry = this.acceptL2(full, raw, 0, pending);
        return (entry !== undefined && !entry.negative ? entry.value : undefined) as T | undefined;
      },
      (err) => {
        if (pending) this.l1!.abandonFill(pending);
        if (!(err instanceof CacheUnavailableError)) throw err;
        this.degraded(full, err);
        return undefined;
      },
    );
  }

  async mget<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.assertOpen();
    const out = new Array<T | undefined>(keys.length);
    const missing: number[] = [];
    keys.forEach((key, i) => {
      const v = this.readL1(key);
      if (v !== L1_MISS) out[i] = v as T;
      else missing.push(i);
    });
    if (missing.length === 0) return out;
    const fulls = missing.map((i) => this.keyPrefix + keys[i]);
    const pending = fulls.map((full) => this.beginL1Fill(full, undefined));
    let raws: Array<string | null>;
    try {
      raws = await this.l2.mget(fulls);
    } catch (err) {
      for (const p of pending) if (p) this.l1!.abandonFill(p);
      if (err instanceof CacheUnavailableError) {
        this.degraded(fulls[0], err);
        return out;
      }
      throw err;
    }
    missing.forEach((i, j) => {
      const entry = this.acceptL2(fulls[j], raws[j], 0, pending[j]);
      out[i] = (entry && !entry.negative ? entry.value : undefined) as T;
    });
    return out;
  }

  /**
   * Writes the value (tags registered before and again after the write), revoking any fill in flight for the key: the
   * caller's value is newer than what a loader read. Throws CacheSerializationError (nothing
   * written) or CacheUnavailableError.
   */
  async set(key: string, value: unknown, opts: SetOptions = {}): Promise<void> {
    this.assertOpen();
    const full = this.writableKey(key);
    const ttlMs = positive(opts.ttlMs, this.defaultTtlMs, 'ttlMs');
    const tags = opts.tags ?? EMPTY;
    const payload = serializeOrThrow(this.serializer, full, value);
    const expiresAt = Date.now() + ttlMs;
    const text = encodeEntry(tags.length > 0 ? { e: expiresAt, t: tags } : { e: expiresAt }, payload);
    const pending = this.beginL1Fill(full, tags);
    try {
      await this.l2.addToTags(full, tags);
      await this.l2.set(full, text, ttlMs);
      // Tagged again after the write: a tag invalidation that took the membership between
      // the first SADD and the SET would otherwise leave the value in no tag set (an orphan
      // no later change could reach). SADD of a member already there is a no-op.
      if (tags.length > 0) await this.l2.addToTags(full, tags);
    } catch (err) {
      if (pending) this.l1!.abandonFill(pending);
      throw err;
    }
    if (pending) this.commitL1(pending, { value: this.serializer.deserialize(payload), negative: false, tags, expiresAt, staleUntil: expiresAt, size: text.length });
    await this.publish({ keys: [full], tags: EMPTY, patterns: EMPTY });
  }

  /** Deletes the key and its lease (a fill in flight is refused), here and, with publishChannel, in other processes' L1. */
  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    const full = this.keyPrefix + key;
    this.l1?.evictKeys([full]);
    const n = await this.l2.unlinkWithLeases([full]);
    this.l1?.evictKeys([full]);
    await this.publish({ keys: [full], tags: EMPTY, patterns: EMPTY });
    return n > 0;
  }

  /** Alias of delete (cache-manager's name). */
  del(key: string): Promise<boolean> {
    return this.delete(key);
  }

  /**
   * Invalidates tags like the worker does: each tag's members are taken atomically and
   * UNLINKed with their leases (fills in flight for them are refused). Returns the number of tagged keys.
   */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.assertOpen();
    this.l1?.evictTags(tags);
    let n = 0;
    for (const tag of tags) n += await this.l2.invalidateTag(tag);
    this.l1?.evictTags(tags);
    await this.publish({ keys: EMPTY, tags, patterns: EMPTY });
    return n;
  }

  /**
   * Read-through: L1, then L2, then the loader under a lease (see docs/client.md). The
   * loader's `undefined` means "not found" (cached for negativeTtlMs when set). A loader
   * error or timeout reaches the caller, nothing is cached and the lease is released.
   */
  async getOrSet<T>(key: string, loader: Loader<T>, opts: GetOrSetOptions = {}): Promise<T | undefined> {
    this.assertOpen();
    const graceMs = opts.graceMs === undefined ? 0 : nonNegative(opts.graceMs, 0, 'graceMs');
    if (this.l1Usable) {
      // The hit path, as in get (no full key built).
      const v = this.l1!.freshLocal(key);
      if (v !== L1_MISS) return this.l1Hit(key, v) as T | undefined;
    }
    const full = this.writableKey(key);
    if (this.l1Usable) {
      const e = graceMs > 0 ? this.l1!.peek(full) : undefined;
      if (e) {
        if (e.fresh) return this.l1Hit(key, e.value) as T | undefined;
        // Stale-while-revalidate: only an entry that expired by TTL is still here (an
        // invalidation evicts it; L1 drops it at its grace end), so this is never a value
        // the worker invalidated.
        this.counters.graceServed++;
        this.fills.shared(full, () => this.load(full, loader, opts, graceMs)).catch(() => undefined);
        return (e.negative ? undefined : e.value) as T | undefined;
      }
      this.counters.misses.l1++;
      if (this.observed) this.emit('miss', { key: full, layer: 'l1' });
    }
    try {
      return await this.fills.shared(full, () => this.load(full, loader, opts, graceMs));
    } catch (err) {
      if (graceMs > 0 && this.l1Usable) {
        const e = this.l1!.peek(full);
        if (e) {
          this.counters.graceServed++;
          return (e.negative ? undefined : e.value) as T | undefined;
        }
      }
      throw err;
    }
  }

  /** Alias of getOrSet (cache-manager's and cacheable's name). */
  wrap<T>(key: string, loader: Loader<T>, opts: GetOrSetOptions = {}): Promise<T | undefined> {
    return this.getOrSet(key, loader, opts);
  }

  /** Drops all of L1 and cancels L1 fills in flight. */
  flushL1(reason: FlushReason = 'manual'): void {
    if (!this.l1) return;
    this.l1.flush();
    this.counters.flushes[reason]++;
    this.emit('flush', { reason });
  }

  /** Stops the subscriber and drops L1. The Redis client is not closed (its owner closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.subscriber?.close();
    this.l1?.flush();
    if (this.options.registry) unregisterCacheMetrics(this.options.registry, this.options.name ?? 'default');
  }

  /** Evicts what an invalidation message names (the subscriber and the Nest transport call this). */
  applyInvalidation(message: Pick<L1InvalidationMessage, 'keys' | 'tags' | 'patterns'>): void {
    if (!this.l1) return;
    if (message.keys.length > 0) this.l1.evictKeys(message.keys);
    if (message.tags.length > 0) this.l1.evictTags(message.tags);
    if (message.patterns.length > 0) this.l1.evictPatterns(message.patterns);
  }

  /** Hooks an external subscriber (the Nest transport) to this client's L1. */
  listener(): InvalidationListener {
    return {
      invalidate: (_channel: string, message: L1InvalidationMessage | L1InvalidateMessageV2) => this.applyInvalidation(message),
      flush: (reason: FlushReason) => this.flushL1(reason),
      hearing: (hearing: boolean) => {
        this.l1Usable = this.l1 !== undefined && hearing;
        if (!hearing) this.l1?.flush();
      },
      outcome: (channel: string, outcome: MessageOutcome) => {
        this.counters.messages[outcome]++;
        this.emit('message', { channel, outcome });
      },
    };
  }

  // ---- the read path ----

  /** By the API key (L1 is keyed without the prefix). */
  private readL1(key: string): unknown {
    if (!this.l1Usable) return L1_MISS;
    const v = this.l1!.freshLocal(key);
    if (v !== L1_MISS) return this.l1Hit(key, v);
    this.counters.misses.l1++;
    if (this.observed) this.emit('miss', { key: this.keyPrefix + key, layer: 'l1' });
    return L1_MISS;
  }

  /** Counts an L1 hit on the API key `key`. */
  private l1Hit(key: string, value: unknown): unknown {
    this.counters.hits.l1++;
    if (this.observed) this.emit('hit', { key: this.keyPrefix + key, layer: 'l1' });
    return value;
  }

  private acceptL2(full: string, raw: string | null, graceMs: number, pending: PendingFill | undefined): L1Entry | undefined {
    const decoded = raw === null ? undefined : decodeEntry(raw);
    if (!decoded || decoded.meta.e <= Date.now()) {
      // Absent, or written by something other than this library (treated as a miss: the next fill replaces it).
      if (pending) this.l1!.abandonFill(pending);
      this.counters.misses.l2++;
      if (this.observed) this.emit('miss', { key: full, layer: 'l2' });
      return undefined;
    }
    const entry = this.toEntry(full, decoded, raw!.length, graceMs);
    this.counters.hits.l2++;
    if (this.observed) this.emit('hit', { key: full, layer: 'l2' });
    if (pending) this.commitL1(pending, entry);
    return entry;
  }

  private toEntry(full: string, d: DecodedEntry, size: number, graceMs: number): L1Entry {
    const negative = d.meta.n === 1;
    let value: unknown;
    if (!negative) {
      try {
        value = this.serializer.deserialize(d.payload);
      } catch (err) {
        throw new CacheSerializationError(`cannot deserialize the value stored at ${JSON.stringify(full)}: ${(err as Error)?.message ?? err}`, full, err);
      }
    }
    return { value, negative, tags: d.meta.t ?? EMPTY, expiresAt: d.meta.e, staleUntil: d.meta.e + graceMs, size };
  }

  /** One miss, through the lease protocol (FillRunner); shared by the callers of FillRunner.shared. */
  private async load<T>(full: string, loader: Loader<T>, opts: GetOrSetOptions, graceMs: number): Promise<SharedLoad<T>> {
    const tags = opts.tags ?? EMPTY;
    // The stored entry's tags may differ from this call's: unknown until read, so any tag eviction cancels the L1 fill.
    const pendingHit = this.trackLoad(full, undefined);
    let raw: string | null;
    try {
      raw = await this.l2.get(full);
    } catch (err) {
      if (pendingHit) this.l1!.abandonFill(pendingHit);
      if (!(err instanceof CacheUnavailableError)) throw err;
      this.degraded(full, err);
      return this.fills.loadWithoutFill(full, loader, opts);
    }
    // GET + decode + L1 in one place (acceptL2), so a hit here is counted and kept like any L2 hit.
    const hit = this.acceptL2(full, raw, graceMs, pendingHit);
    // An invalidation of k heard while the GET was in flight (the pending L1 fill was cancelled)
    // may have come after a joiner arrived: the value is the starter's, not the joiners'.
    if (hit) return { value: (hit.negative ? undefined : hit.value) as T | undefined, mayBeStale: pendingHit?.cancelled === true };

    const pending = this.trackLoad(full, tags);
    try {
      const result = await this.fills.run(full, raw, loader, opts, this.serializer, (text) => this.acceptL2(full, text, graceMs, undefined));
      if (pending && result.stored && result.entry) {
        this.commitL1(pending, { ...result.entry, staleUntil: result.entry.expiresAt + graceMs });
      }
      // Likewise for an invalidation (or a flush) heard while the lease, the wait or the loader ran.
      return { value: result.value, mayBeStale: result.mayBeStale === true || pending?.cancelled === true };
    } catch (err) {
      if (err instanceof CacheUnavailableError) {
        this.degraded(full, err);
        return this.fills.loadWithoutFill(full, loader, opts);
      }
      throw err;
    } finally {
      if (pending) this.l1!.abandonFill(pending);
    }
  }

  private beginL1Fill(full: string, tags: readonly string[] | undefined): PendingFill | undefined {
    return this.l1Usable ? this.l1!.beginFill(full, tags) : undefined;
  }

  /**
   * A load's pending L1 fill, registered even while L1 is bypassed: its `cancelled` tells the
   * load's joiners that this process heard an invalidation of the key, or flushed, while it ran
   * (FillRunner.shared). A load begun while L1 is bypassed (this process may be missing
   * messages) starts out cancelled: it is never stored in L1, and its joiners load again.
   */
  private trackLoad(full: string, tags: readonly string[] | undefined): PendingFill | undefined {
    const fill = this.l1?.beginFill(full, tags);
    if (fill && !this.l1Usable) fill.cancelled = true;
    return fill;
  }

  private commitL1(pending: PendingFill, entry: L1Entry): void {
    if (!this.l1Usable) {
      this.l1!.abandonFill(pending);
      return;
    }
    if (!this.l1!.commitFill(pending, entry, Date.now()) && pending.cancelled) this.counters.l1FillsCancelled++;
  }

  private degraded(full: string, error: Error): void {
    this.counters.degraded++;
    this.emit('degraded', { key: full, error });
  }

  private writableKey(key: string): string {
    const full = this.keyPrefix + key;
    if (isReservedKey(full)) throw new CacheConfigError(`${JSON.stringify(full)} is under the reserved prefix cdc: (protocol state)`);
    return full;
  }

  private async publish(payload: { keys: readonly string[]; tags: readonly string[]; patterns: readonly string[] }): Promise<void> {
    const channel = this.options.publishChannel;
    if (!channel) return;
    const messages = buildL1Messages(payload, { id: this.l2.newToken(), source: 'cache-client', channel, position: '', commitTimeMs: 0, publishedAtMs: Date.now() }, 1000);
    try {
      for (const m of messages) await this.options.redis.publish(channel, JSON.stringify(m));
    } catch (err) {
      throw toCacheError(err, channel);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new CacheConfigError(`${name} must be a positive number of ms or entries, got ${value}`);
  return value;
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new CacheConfigError(`${name} must be >= 0, got ${value}`);
  return value;
}
