import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { RELEASE_TAG_PAGE, TAKE_TAG_PAGE, leaseKeyOf, parseTakenPage, releasePageArgs, tagTakeKeys, takePageArgs } from '@cdc/protocol';
import { CacheUnavailableError, CacheWrongTypeError } from './errors';
import type { RedisLike } from './options';
import { FILL_SCRIPT, POLL_SCRIPT, RELEASE_SCRIPT, SET_SCRIPT } from './redis-scripts';

/** Keys per UNLINK when deleting a taken tag's members on a standalone server. */
const UNLINK_CHUNK = 500;
/** Members of a tag taken, deleted and released per step. */
const TAG_PAGE = 1000;

interface ScriptedRedis {
  cdcClientFill(k: string, lease: string, token: string, value: string, px: number): Promise<number>;
  cdcClientRelease(lease: string, token: string): Promise<number>;
  cdcClientSet(k: string, lease: string, value: string, px: number): Promise<number>;
  cdcClientPoll(k: string, lease: string): Promise<[string | null, string | null]>;
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

  newToken(): string {
    return randomBytes(12).toString('base64url');
  }

  get(key: string): Promise<string | null> {
    return this.call(key, () => this.r.get(key));
  }

  async mget(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    // A Cluster MGET must stay in one slot; per-key GETs go out concurrently instead.
    if (this.cluster) return Promise.all(keys.map((k) => this.get(k)));
    return this.call(keys[0], () => this.r.mget(...keys));
  }

  /** SET NX the lease; true when we hold it. */
  async acquireLease(key: string, token: string, ttlMs: number): Promise<boolean> {
    const reply = await this.call(key, () => this.r.set(leaseKeyOf(key), token, 'PX', ttlMs, 'NX'));
    return reply === 'OK';
  }

  /** Conditional fill; false = refused (the lease was revoked by an invalidation or expired). */
  async fill(key: string, token: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call(key, () => this.r.cdcClientFill(key, leaseKeyOf(key), token, value, ttlMs))) === 1;
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.call(key, () => this.r.cdcClientRelease(leaseKeyOf(key), token));
  }

  /** Value and lease of a key, for a waiter. */
  poll(key: string): Promise<[string | null, string | null]> {
    return this.call(key, () => this.r.cdcClientPoll(key, leaseKeyOf(key)));
  }

  /** Unconditional write that also revokes any lease in flight. */
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.call(key, () => this.r.cdcClientSet(key, leaseKeyOf(key), value, ttlMs));
  }

  /** SADD the key into each tag's set. */
  async addToTags(key: string, tags: readonly string[]): Promise<void> {
    await Promise.all(tags.map((tag) => this.call(this.tagPrefix + tag, () => this.r.sadd(this.tagPrefix + tag, key))));
  }

  /** UNLINK keys with their leases (each key and its lease in one command, same slot). */
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
    return this.deadlines.bound(fn(), this.timeoutMs, key);
  }
}

interface Pending {
  readonly deadline: number;
  readonly key: string;
  readonly reject: (err: unknown) => void;
}

/**
 * Time bounds for many calls with one sweeping timer instead of a setTimeout per call (the
 * L2 hit path runs at tens of thousands a second). A call rejects with CacheUnavailableError
 * between timeoutMs and 1.25 × timeoutMs after it started; the timer runs only while calls are pending.
 */
class Deadlines {
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;

  bound<T>(p: Promise<T>, timeoutMs: number, key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: Date.now() + timeoutMs, key, reject };
      this.pending.add(entry);
      if (!this.timer) {
        this.timer = setInterval(() => this.sweep(timeoutMs), Math.max(5, Math.floor(timeoutMs / 4)));
        this.timer.unref();
      }
      p.then(
        (v) => {
          this.pending.delete(entry);
          resolve(v);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(toCacheError(err, key));
        },
      );
    });
  }

  private sweep(timeoutMs: number): void {
    const now = Date.now();
    for (const entry of this.pending) {
      if (entry.deadline > now) continue;
      this.pending.delete(entry);
      entry.reject(new CacheUnavailableError(`redis did not answer within ${timeoutMs} ms (${JSON.stringify(entry.key)})`));
    }
    if (this.pending.size === 0 && this.timer) {
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
  if (typeof r.cdcClientFill === 'function') return;
  redis.defineCommand('cdcClientFill', { numberOfKeys: 2, lua: FILL_SCRIPT });
  redis.defineCommand('cdcClientRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  redis.defineCommand('cdcClientSet', { numberOfKeys: 2, lua: SET_SCRIPT });
  redis.defineCommand('cdcClientPoll', { numberOfKeys: 2, lua: POLL_SCRIPT });
  for (const script of [TAKE_TAG_PAGE, RELEASE_TAG_PAGE]) redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
}
