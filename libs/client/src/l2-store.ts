import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { RELEASE_TAG_PAGE, TAKE_TAG_PAGE, isLeaseMarker, leaseKeyOf, leaseMarkerOf, parseTakenPage, releasePageArgs, tagTakeKeys, takePageArgs } from '@cdc/protocol';
import { CacheUnavailableError, CacheWrongTypeError } from './errors';
import type { RedisLike } from './options';
import { ACQUIRE_SCRIPT, FILL_SCRIPT, RELEASE_SCRIPT, SET_SCRIPT } from './redis-scripts';

/** Keys per UNLINK when deleting a taken tag's members on a standalone server. */
const UNLINK_CHUNK = 500;
/** Members of a tag taken, deleted and released per step. */
const TAG_PAGE = 1000;

interface ScriptedRedis {
  cdcClientAcquire(k: string, marker: string, px: number, seen: string): Promise<number | string>;
  cdcClientFill(k: string, marker: string, value: string, px: number): Promise<number>;
  cdcClientRelease(k: string, marker: string): Promise<number>;
  cdcClientSet(k: string, lease: string, value: string, px: number): Promise<number>;
}

/** The shared tag scripts, called by their @cdc/protocol names. */
type TagScripted = Record<string, (...args: Array<string | number>) => Promise<unknown>>;

/**
 * The only code that talks to Redis for values, leases and tag sets (the subscriber has its
 * own connection). Every call is bounded by `timeoutMs`; errors come out typed:
 * WRONGTYPE → CacheWrongTypeError, anything connection-like or a timeout → CacheUnavailableError.
 */
export class L2Store {
  private readonly r: RedisLike & ScriptedRedis;
  private readonly cluster: boolean;
  /** False when the client itself already bounds every command (commandTimeout, no offline queue): no timer per call. */
  private readonly ownTimer: boolean;
  private readonly deadlines = new Deadlines();
  private readonly tokenPrefix = `${randomBytes(12).toString('base64url')}.`;
  private tokenSeq = 0;

  constructor(
    redis: RedisLike,
    private readonly tagPrefix: string,
    private readonly timeoutMs: number,
  ) {
    defineScripts(redis);
    this.r = redis as RedisLike & ScriptedRedis;
    this.cluster = (redis as Cluster).isCluster === true;
    const commandTimeout = this.cluster ? (redis as Cluster).options.redisOptions?.commandTimeout : (redis as Redis).options.commandTimeout;
    const offlineQueue = this.cluster ? (redis as Cluster).options.enableOfflineQueue : (redis as Redis).options.enableOfflineQueue;
    this.ownTimer = !(commandTimeout !== undefined && commandTimeout <= timeoutMs && offlineQueue === false);
  }

  /**
   * Lease tokens and message ids: 96 random bits per store, then a counter. Unique across
   * processes and cheap; a getrandom call per token was 8 % of a miss's CPU. A token is not a
   * secret: it only tells lease holders apart (anyone who can reach Redis can write k anyway).
   */
  newToken(): string {
    return this.tokenPrefix + (++this.tokenSeq).toString(36);
  }

  get(key: string): Promise<string | null> {
    return this.call(key, () => this.r.get(key));
  }

  /**
   * GET with the caller's handling of the reply and of a (typed) failure run in the same
   * promise hop as the reply: the L2 hit path's GET + decode costs the promises a raw
   * `await redis.get()` costs, not two more. A reply arriving after the time bound has
   * already failed the call is dropped (onValue never runs for it).
   */
  getThen<R>(key: string, onValue: (raw: string | null) => R, onError: (err: Error) => R): Promise<R> {
    const reply = this.r.get(key);
    if (!this.ownTimer) return reply.then(onValue, (err: unknown) => onError(toCacheError(err, key)));
    return this.deadlines.then(reply, this.timeoutMs, key, onValue, onError);
  }

  async mget(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    // A Cluster MGET must stay in one slot; per-key GETs go out concurrently instead.
    if (this.cluster) return Promise.all(keys.map((k) => this.get(k)));
    return this.call(keys[0], () => this.r.mget(...keys));
  }

  /**
   * Writes our lease marker into k when k is absent or still holds `seen` (what the caller
   * read and judged a miss; null when it read nothing; never a lease marker: that would steal
   * another reader's lease). True when we hold the lease, else what k holds now (a value filled
   * meanwhile, or another reader's marker), so the caller needs no second read.
   */
  async acquireLease(key: string, token: string, ttlMs: number, seen: string | null): Promise<true | string> {
    if (seen !== null && isLeaseMarker(seen)) throw new Error(`acquireLease: ${JSON.stringify(key)} holds another reader's lease`);
    const reply = await this.call(key, () => this.r.cdcClientAcquire(key, leaseMarkerOf(token), ttlMs, seen ?? ''));
    return reply === 1 ? true : (reply as string);
  }

  /** Conditional fill; false = refused (the lease was revoked by an invalidation, or expired). */
  async fill(key: string, token: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call(key, () => this.r.cdcClientFill(key, leaseMarkerOf(token), value, ttlMs))) === 1;
  }

  /** Deletes k if it still holds our marker; true when it did. */
  async releaseLease(key: string, token: string): Promise<boolean> {
    return (await this.call(key, () => this.r.cdcClientRelease(key, leaseMarkerOf(token)))) === 1;
  }

  /** Unconditional write that also revokes any lease in flight. */
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.call(key, () => this.r.cdcClientSet(key, leaseKeyOf(key), value, ttlMs));
  }

  /** SADD the key into each tag's set. */
  async addToTags(key: string, tags: readonly string[]): Promise<void> {
    await Promise.all(tags.map((tag) => this.call(this.tagPrefix + tag, () => this.r.sadd(this.tagPrefix + tag, key))));
  }

  /**
   * UNLINK keys (which revokes their protocol-2 leases) together with their protocol-1 lease
   * keys, so that cache-client 0.1 readers stay safe during a rolling upgrade. These are the
   * rare manual deletes; the worker's hot path sends plain UNLINKs by default.
   */
  async unlinkWithLeases(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (this.cluster) {
      const counts = await Promise.all(keys.map((k) => this.call(k, () => this.r.unlink(k, leaseKeyOf(k)))));
      return counts.reduce((a, b) => a + b, 0);
    }
    let total = 0;
    for (let i = 0; i < keys.length; i += UNLINK_CHUNK) {
      const part = keys.slice(i, i + UNLINK_CHUNK);
      total += await this.call(part[0], () => this.r.unlink(...part.flatMap((k) => [k, leaseKeyOf(k)])));
    }
    return total;
  }

  /**
   * Invalidates one tag with the worker's protocol steps (@cdc/protocol tag-take, see
   * docs/tag-sets.md): drain the tag's holding set (a crashed taker's leftovers, or another
   * taker's members in flight), take the tag set into it once, drain again; each page is
   * UNLINKed with its leases, then released. An error leaves the rest in the holding set,
   * where the next take of the tag, by anyone, finds it first. Returns the tagged keys deleted.
   */
  async invalidateTag(tag: string): Promise<number> {
    const keys = tagTakeKeys(this.tagPrefix + tag);
    const scripts = this.r as unknown as TagScripted;
    let mayTake = true;
    let deleted = 0;
    for (;;) {
      const reply = await this.call(keys.setKey, () => scripts[TAKE_TAG_PAGE.name](...takePageArgs(keys, TAG_PAGE, mayTake)));
      const page = parseTakenPage(reply);
      if (page.took) mayTake = false;
      if (page.members.length === 0) return deleted;
      await this.unlinkWithLeases(page.members);
      await this.call(keys.holdKey, () => scripts[RELEASE_TAG_PAGE.name](...releasePageArgs(keys, page.epoch, page.members)));
      deleted += page.members.length;
    }
  }

  /** Runs one Redis call with the time bound and error mapping. Not async: the hit path pays for one promise, not three. */
  private call<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (!this.ownTimer) return fn().catch((err: unknown) => Promise.reject(toCacheError(err, key)));
    return this.deadlines.then(fn(), this.timeoutMs, key, identity, rethrow);
  }
}

function identity<T>(v: T): T {
  return v;
}

function rethrow(err: Error): never {
  throw err;
}

/** One bounded call: settles once, by its reply or by the sweep, whichever comes first. */
class Call<T, R> {
  next: Call<unknown, unknown> | undefined = undefined;
  done = false;

  constructor(
    readonly deadline: number,
    readonly key: string,
    private readonly resolve: (r: R) => void,
    private readonly reject: (err: unknown) => void,
    private readonly onValue: (v: T) => R,
    private readonly onError: (err: Error) => R,
  ) {}

  value(v: T): void {
    // A reply after the sweep failed the call is dropped: onValue (which may fill L1) never runs for it.
    if (this.done) return;
    this.done = true;
    try {
      this.resolve(this.onValue(v));
    } catch (e) {
      this.reject(e);
    }
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    try {
      this.resolve(this.onError(toCacheError(err, this.key)));
    } catch (e) {
      this.reject(e);
    }
  }
}

/**
 * Time bounds for many calls with one sweeping timer instead of a setTimeout per call (the
 * L2 hit path runs at tens of thousands a second). A call fails with CacheUnavailableError
 * between timeoutMs and 1.25 × timeoutMs after it started; the timer runs only while calls are pending.
 * The calls in flight are a list in start order: replies mostly come in that order, so the
 * settled head is dropped as new calls come, and nothing is hashed or kept long per call.
 */
class Deadlines {
  private head: Call<unknown, unknown> | undefined;
  private tail: Call<unknown, unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `p` bounded in time, then `onValue` or `onError` (with the typed error), in one promise. */
  then<T, R>(p: Promise<T>, timeoutMs: number, key: string, onValue: (v: T) => R, onError: (err: Error) => R): Promise<R> {
    let call!: Call<T, R>;
    const promise = new Promise<R>((resolve, reject) => {
      call = new Call(Date.now() + timeoutMs, key, resolve, reject, onValue, onError);
    });
    this.append(call as unknown as Call<unknown, unknown>, timeoutMs);
    p.then(
      (v) => call.value(v),
      (err: unknown) => call.fail(err),
    );
    return promise;
  }

  private append(call: Call<unknown, unknown>, timeoutMs: number): void {
    while (this.head !== undefined && this.head.done) this.head = this.head.next;
    if (this.head === undefined) this.head = call;
    else this.tail!.next = call;
    this.tail = call;
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(timeoutMs), Math.max(5, Math.floor(timeoutMs / 4)));
      this.timer.unref();
    }
  }

  private sweep(timeoutMs: number): void {
    const now = Date.now();
    let kept: Call<unknown, unknown> | undefined;
    for (let c = this.head; c !== undefined; c = c.next) {
      if (!c.done && c.deadline <= now) c.fail(new CacheUnavailableError(`redis did not answer within ${timeoutMs} ms (${JSON.stringify(c.key)})`));
      if (c.done) {
        if (kept) kept.next = c.next;
        else this.head = c.next;
      } else kept = c;
    }
    this.tail = kept;
    if (this.head === undefined && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export function toCacheError(err: unknown, key: string): Error {
  if (err instanceof CacheUnavailableError || err instanceof CacheWrongTypeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/WRONGTYPE/.test(message)) return new CacheWrongTypeError(key, message, err);
  // Anything else from Redis (connection closed, offline queue disabled, command timeout,
  // cluster down, LOADING, OOM ...) means "the cache cannot serve now".
  return new CacheUnavailableError(`redis failed for ${JSON.stringify(key)}: ${message}`, err);
}

function defineScripts(redis: RedisLike): void {
  const r = redis as RedisLike & Partial<ScriptedRedis>;
  if (typeof r.cdcClientAcquire === 'function') return;
  redis.defineCommand('cdcClientAcquire', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
  redis.defineCommand('cdcClientFill', { numberOfKeys: 1, lua: FILL_SCRIPT });
  redis.defineCommand('cdcClientRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  redis.defineCommand('cdcClientSet', { numberOfKeys: 2, lua: SET_SCRIPT });
  for (const script of [TAKE_TAG_PAGE, RELEASE_TAG_PAGE]) redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
}
