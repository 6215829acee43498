import type { EventEmitter } from 'node:events';
import type { CacheStats } from './client-metrics';
import { isLeaseMarker } from '@cdc/protocol';
import { encodeEntry } from './entry-codec';
import { CacheConfigError, CacheUnavailableError, LoaderTimeoutError } from './errors';
import type { L1Entry } from './l1-cache';
import type { L2Store } from './l2-store';
import type { CacheClientEvents, GetOrSetOptions, Loader, LoaderContext } from './options';
import { Serializer, serializeOrThrow } from './serializer';

export interface FillRunnerOptions {
  readonly l2: L2Store;
  readonly stats: CacheStats;
  readonly events: EventEmitter<CacheClientEvents>;
  readonly leaseTtlMs: number;
  readonly leaseWaitMs: number;
  readonly defaultTtlMs: number;
}

/** What a load hands its callers (FillRunner.shared). */
export interface SharedLoad<T> {
  readonly value: T | undefined;
  /**
   * Nothing vouched for the value until the load ended: the fill was refused or the release
   * found k changed (an invalidation reached the key while the loader ran), the load ran
   * without a lease (Redis failing, the lease wait timed out), or this process heard an
   * invalidation of the key while it ran (CacheClient.load). The value may predate a commit
   * the worker applied meanwhile. The caller that started the load may still use it (its read
   * began before); a caller that joined the load later must not.
   */
  readonly mayBeStale?: boolean;
}

export interface FillResult<T> extends SharedLoad<T> {
  /** The value is what L2 holds now (filled by us or by the lease holder we waited for): L1 may keep it. */
  readonly stored: boolean;
  readonly entry?: L1Entry;
}

const EMPTY: readonly string[] = [];
const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 50;

/**
 * The one fill path (docs/client.md#a-miss-getorset): lease, then tag registration, then the
 * loader, then the conditional fill. A miss whose lease is held elsewhere waits (bounded)
 * for the holder's value, then loads without filling. In-process singleflight in front.
 */
export class FillRunner {
  private readonly inflight = new Map<string, Promise<SharedLoad<unknown>>>();

  constructor(private readonly o: FillRunnerOptions) {}

  /**
   * One run of `fn` per key at a time in this process; concurrent callers share its value,
   * unless it came back `mayBeStale`: the invalidation may have come after a joiner arrived,
   * and the value predate a commit the worker had applied before that joiner's read began.
   * The joiners then load again, in a run that starts after they arrived (and take its value
   * whatever becomes of its lease). Without this, a read that began after its own L1 eviction
   * could still return the old row (the audit's "stale beyond the worker's lag, after the
   * reader's own eviction").
   */
  async shared<T>(key: string, fn: () => Promise<SharedLoad<T>>): Promise<T | undefined> {
    const running = this.inflight.get(key) as Promise<SharedLoad<T>> | undefined;
    if (!running) return (await this.start(key, fn)).value;
    const joined = await running;
    if (!joined.mayBeStale) return joined.value;
    this.o.stats.sharedLoadsRetried++;
    const again = (this.inflight.get(key) as Promise<SharedLoad<T>> | undefined) ?? this.start(key, fn);
    return (await again).value;
  }

  private start<T>(key: string, fn: () => Promise<SharedLoad<T>>): Promise<SharedLoad<T>> {
    const p = fn().finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    this.inflight.set(key, p);
    return p;
  }

  /**
   * A miss on `full`, whose GET returned `seen` (null, a lease marker, or an entry that is
   * expired or not the library's). Takes the lease in k itself unless another reader holds it;
   * then waits (bounded) for that reader's value, taking the lease over if it vanishes.
   */
  async run<T>(
    full: string,
    seen: string | null,
    loader: Loader<T>,
    opts: GetOrSetOptions,
    serializer: Serializer,
    fromL2: (raw: string) => L1Entry | undefined,
  ): Promise<FillResult<T>> {
    const { l2, stats, events, leaseWaitMs } = this.o;
    const deadline = Date.now() + leaseWaitMs;
    let waited = false;
    let delay = FIRST_POLL_MS;
    let raw = seen;
    for (;;) {
      while (raw !== null && isLeaseMarker(raw)) {
        // Another reader holds the lease: wait for its fill (distributed stampede protection).
        if (!waited) {
          waited = true;
          stats.leaseWaits++;
          events.emit('lease-wait', { key: full });
        }
        const left = deadline - Date.now();
        if (left <= 0) return this.timedOut(full, loader, opts);
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, MAX_POLL_MS);
        raw = await l2.get(full);
      }
      if (raw !== null) {
        const entry = fromL2(raw);
        if (entry) return { value: (entry.negative ? undefined : entry.value) as T | undefined, stored: true, entry };
      }
      // k is absent (no lease, or the holder failed or was revoked), or holds an expired entry
      // or foreign bytes: take the lease, replacing exactly what we read (never another's marker).
      if (waited && Date.now() >= deadline) return this.timedOut(full, loader, opts);
      const token = l2.newToken();
      const reply = await l2.acquireLease(full, token, this.o.leaseTtlMs, raw);
      if (reply === true) return this.fillUnderLease(full, token, loader, opts, serializer);
      raw = reply;
    }
  }

  private timedOut<T>(full: string, loader: Loader<T>, opts: GetOrSetOptions): Promise<FillResult<T>> {
    this.o.stats.leaseWaitTimeouts++;
    this.o.events.emit('lease-timeout', { key: full });
    return this.loadWithoutFill(full, loader, opts);
  }

  /** Redis is unusable or the lease wait ran out: the loader's value, cached nowhere, and no lease vouches for it. */
  async loadWithoutFill<T>(full: string, loader: Loader<T>, opts: GetOrSetOptions): Promise<FillResult<T>> {
    return { value: await this.runLoader(full, loader, opts.timeoutMs ?? 10_000), stored: false, mayBeStale: true };
  }

  private async fillUnderLease<T>(full: string, token: string, loader: Loader<T>, opts: GetOrSetOptions, serializer: Serializer): Promise<FillResult<T>> {
    const { l2, stats, events } = this.o;
    const tags = opts.tags ?? EMPTY;
    let text: string;
    let value: T | undefined;
    let ttlMs: number;
    let expiresAt: number;
    let payload = '';
    try {
      // Registered before the loader reads the database: an invalidation of the tag from now on finds the key (and its lease).
      await l2.addToTags(full, tags);
      value = await this.runLoader(full, loader, opts.timeoutMs ?? 10_000);
      if (value === undefined) {
        const negativeTtlMs = opts.negativeTtlMs ?? 0;
        if (!(negativeTtlMs > 0)) {
          // "Not found" is cached nowhere, but whether the lease survived still says if an invalidation came meanwhile.
          const released = await this.release(full, token);
          return { value, stored: false, mayBeStale: !released };
        }
        ttlMs = jittered(negativeTtlMs, opts.jitter);
        expiresAt = Date.now() + ttlMs;
        text = encodeEntry(tags.length > 0 ? { e: expiresAt, t: tags, n: 1 } : { e: expiresAt, n: 1 }, '');
      } else {
        payload = serializeOrThrow(serializer, full, value);
        ttlMs = jittered(opts.ttlMs ?? this.o.defaultTtlMs, opts.jitter);
        expiresAt = Date.now() + ttlMs;
        text = encodeEntry(tags.length > 0 ? { e: expiresAt, t: tags } : { e: expiresAt }, payload);
      }
    } catch (err) {
      await this.release(full, token);
      throw err;
    }
    let filled: boolean;
    try {
      filled = await l2.fill(full, token, text, ttlMs);
    } catch (err) {
      // The loader already ran: hand its value back rather than loading a second time.
      if (!(err instanceof CacheUnavailableError)) throw err;
      stats.degraded++;
      events.emit('degraded', { key: full, error: err });
      return { value, stored: false, mayBeStale: true };
    }
    if (!filled) {
      stats.fillsRefused++;
      events.emit('fill-refused', { key: full });
      return { value, stored: false, mayBeStale: true };
    }
    const negative = value === undefined;
    if (negative) stats.negativeFills++;
    else stats.fills++;
    events.emit('fill', { key: full, negative });
    // L1 keeps its own copy, so a caller mutating the returned object cannot change what others read.
    const copy = negative ? undefined : serializer.deserialize(payload);
    return { value, stored: true, entry: { value: copy, negative, tags, expiresAt, staleUntil: expiresAt, size: text.length } };
  }

  /** True when k still held our marker (no invalidation came); false when it did not, or Redis failed. */
  private async release(full: string, token: string): Promise<boolean> {
    // Best effort: if Redis cannot be reached the lease expires by its TTL.
    return this.o.l2.releaseLease(full, token).catch(() => false);
  }

  private async runLoader<T>(full: string, loader: Loader<T>, timeoutMs: number): Promise<T | undefined> {
    // The AbortController is made only for a loader that reads `signal`: creating one per miss
    // was 4 % of a miss's CPU, and most loaders never look at it.
    let controller: AbortController | undefined;
    let timedOut = false;
    const context: LoaderContext = {
      key: full,
      get signal(): AbortSignal {
        controller ??= new AbortController();
        if (timedOut) controller.abort();
        return controller.signal;
      },
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        controller?.abort();
        reject(new LoaderTimeoutError(full, timeoutMs));
      }, timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(() => loader(context)), timeout]);
    } catch (err) {
      if (err instanceof LoaderTimeoutError) this.o.stats.loaderTimeouts++;
      else this.o.stats.loaderErrors++;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** ttl plus a random share of up to `jitter` × ttl. */
export function jittered(ttlMs: number, jitter: number | undefined): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new CacheConfigError(`ttlMs must be a positive number, got ${ttlMs}`);
  if (jitter === undefined || jitter === 0) return Math.ceil(ttlMs);
  if (!(jitter > 0 && jitter <= 1)) throw new CacheConfigError(`jitter must be in [0, 1], got ${jitter}`);
  return Math.ceil(ttlMs + Math.random() * jitter * ttlMs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
