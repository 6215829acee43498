import type { Cluster, Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Serializer } from './serializer';

/** A standalone (or Sentinel) ioredis client, or an ioredis Cluster. */
export type RedisLike = Redis | Cluster;

export interface L1Options {
  /** Maximum number of entries. Default 10_000. */
  readonly maxEntries?: number;
  /** Maximum total size in bytes (UTF-16 length of the serialized values, an estimate). Default 64 MiB. */
  readonly maxBytes?: number;
  /**
   * Hard cap on how long an entry stays in L1, whatever its TTL: the last backstop if an
   * invalidation were ever missed undetected. Default 60_000 ms.
   */
  readonly maxTtlMs?: number;
}

export interface SubscriberOptions {
  /** Pub/sub channels the worker's L1 sink publishes on (rules' `l1.channel`). */
  readonly channels: readonly string[];
  /**
   * No message at all (heartbeats included) for this long = the subscriber cannot hear
   * invalidations: flush L1 and bypass it until a message arrives. Default 3000 ms.
   * 0 turns silence detection off (a worker that publishes only v1 messages, without heartbeats).
   */
  readonly silenceMs?: number;
  /** Streams remembered per channel for gap detection (a worker restart or failover starts a new one). Default 4. */
  readonly streamsPerChannel?: number;
}

export interface CacheClientOptions {
  /** The Redis client (standalone or Cluster). Not closed by close(): its owner closes it. Must not have an ioredis keyPrefix. */
  readonly redis: RedisLike;
  /** Prepended to every key the API is given (the namespace is part of the Redis key the rules name). Default ''. */
  readonly keyPrefix?: string;
  /** Prefix of tag sets; must match the worker's. Default 'cdc:tag:'. */
  readonly tagPrefix?: string;
  /** Default TTL of set/getOrSet in ms. Default 60_000. */
  readonly defaultTtlMs?: number;
  /** Serializer for values stored in Redis. Default JSON. */
  readonly serializer?: Serializer;
  /** In-process L1. `false` turns it off (every read goes to Redis). Default on with the L1Options defaults. */
  readonly l1?: L1Options | false;
  /**
   * Invalidation subscriber for L1. Without it L1 cannot hear the worker, so L1 is used
   * only when `l1Unsafe: true` says the app accepts L1 entries living up to `l1.maxTtlMs`.
   */
  readonly subscriber?: SubscriberOptions;
  /** Use L1 without a subscriber (stale up to l1.maxTtlMs). Default false. */
  readonly l1Unsafe?: boolean;
  /** Lease TTL in ms: how long a crashed loader can block others from filling a key. Default 10_000. */
  readonly leaseTtlMs?: number;
  /** How long a miss waits for another process's lease holder to fill before loading itself (without filling). Default 2000 ms. */
  readonly leaseWaitMs?: number;
  /** Bound on every Redis round trip the read path makes; past it reads go to the loader. Default 1000 ms. */
  readonly redisTimeoutMs?: number;
  /** After delete/set/invalidateTags, publish a v1 L1 message on this channel so other processes' L1s evict too. Default none. */
  readonly publishChannel?: string;
  /** prom-client registry to register the client's metrics in. Default: none (metrics still available via stats()). */
  readonly registry?: Registry;
  /** Label value distinguishing several clients in one registry. Default 'default'. */
  readonly name?: string;
}

export interface SetOptions {
  /** Time to live in ms. Default: the client's defaultTtlMs. */
  readonly ttlMs?: number;
  /** Tags: the key is added to each tag's set before the value is written. */
  readonly tags?: readonly string[];
}

export interface LoaderContext {
  /** Aborted when the loader timed out (its result will be discarded). */
  readonly signal: AbortSignal;
  /** The full Redis key being loaded. */
  readonly key: string;
}

export type Loader<T> = (ctx: LoaderContext) => Promise<T | undefined> | T | undefined;

export interface GetOrSetOptions extends SetOptions {
  /** A loader returning `undefined` ("not found") is cached as a negative entry for this long. Default 0: not cached. */
  readonly negativeTtlMs?: number;
  /** Random extra TTL in [0, jitter × ttl) so entries filled together do not expire together. 0..1, default 0. */
  readonly jitter?: number;
  /**
   * Stale-while-revalidate: an L1 copy that expired by TTL less than graceMs ago is returned
   * at once (and refreshed in the background), or when the loader fails. Never a copy an
   * invalidation touched (those are gone from L1). Default 0: off.
   */
  readonly graceMs?: number;
  /** The loader is abandoned (LoaderTimeoutError, lease released) after this long. Default 10_000 ms. */
  readonly timeoutMs?: number;
}

export type CacheLayer = 'l1' | 'l2';
export type FlushReason = 'connect' | 'gap' | 'silence' | 'disconnect' | 'manual';
export type MessageOutcome = 'applied' | 'duplicate' | 'gap' | 'heartbeat' | 'unknown-version' | 'invalid';

/** Events emitted by CacheClient (`client.on(name, listener)`). */
export interface CacheClientEvents {
  hit: [{ key: string; layer: CacheLayer }];
  miss: [{ key: string; layer: CacheLayer }];
  fill: [{ key: string; negative: boolean }];
  'fill-refused': [{ key: string }];
  'lease-wait': [{ key: string }];
  'lease-timeout': [{ key: string }];
  flush: [{ reason: FlushReason }];
  message: [{ channel: string; outcome: MessageOutcome }];
  /** Redis failed on the read path; the read went to the loader (or returned a miss). */
  degraded: [{ key: string; error: Error }];
}
