import type { Cluster, Redis } from 'ioredis';
import { L1InvalidationMessage, L1InvalidateMessageV2, parseL1Message } from '@cdc/protocol';
import type { FlushReason, MessageOutcome, RedisLike, SubscriberOptions } from './options';
import { StreamTracker } from './stream-tracker';

/** What the subscriber drives: an L1 cache (CacheClient), a Nest transport's handlers, or both. */
export interface InvalidationListener {
  /** Evict what one invalidate message (part) names. */
  invalidate(channel: string, message: L1InvalidationMessage | L1InvalidateMessageV2): void;
  /** Drop all of L1: the subscriber may have missed messages. */
  flush(reason: FlushReason): void;
  /** false = invalidations cannot be heard now: bypass L1 (reads go to L2) until true again. */
  hearing(hearing: boolean): void;
  /** Every message's outcome, for metrics. */
  outcome?(channel: string, outcome: MessageOutcome): void;
}

/**
 * The L1 invalidation subscriber (CLIENT-PROTOCOL.md). Redis pub/sub is at-most-once, so it
 * never trusts L1 across a moment it may have been deaf: on every (re)connect and
 * resubscribe, on a sequence gap, and after `silenceMs` without any message (the worker
 * sends heartbeats on idle channels) it flushes L1, and it reports "not hearing" (L1 is
 * bypassed) from a disconnect or silence until a message arrives again. Bad messages are
 * counted and ignored; unknown versions are counted and ignored.
 *
 * It owns a dedicated connection in subscriber mode: a duplicate of the given client, or on
 * a Cluster a connection to one of its nodes (see connection()).
 */
export class L1Subscriber {
  private sub: Redis | undefined;
  private readonly tracker: StreamTracker;
  private readonly silenceMs: number;
  private subscribed = false;
  private isHearing = false;
  private lastHeardAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Cluster: connections opened (picks the node) and consecutive ones that failed to subscribe (the backoff). */
  private attempts = 0;
  private failures = 0;

  constructor(
    private readonly redis: RedisLike,
    private readonly options: SubscriberOptions,
    private readonly listener: InvalidationListener,
  ) {
    if (options.channels.length === 0) throw new RangeError('subscriber needs at least one channel');
    this.silenceMs = options.silenceMs ?? 3000;
    this.tracker = new StreamTracker(options.streamsPerChannel ?? 4);
  }

  /** True while invalidations can be heard (L1 may be used). */
  get hearing(): boolean {
    return this.isHearing;
  }

  /**
   * Opens the connection and subscribes. Resolves once subscribed, or once the first attempt
   * failed (it keeps retrying in the background; L1 stays bypassed meanwhile).
   */
  async start(): Promise<void> {
    if (this.silenceMs > 0) {
      this.timer = setInterval(() => this.checkSilence(), Math.max(10, Math.floor(this.silenceMs / 4)));
      this.timer.unref();
    }
    const redis = this.redis;
    if (isCluster(redis) && redis.status !== 'ready') {
      // The nodes to subscribe on are known once the Cluster client has its slots.
      const ready = await new Promise<boolean>((resolve) => {
        redis.once('ready', () => resolve(true));
        redis.once('close', () => resolve(false));
      });
      if (!ready) {
        redis.once('ready', () => void this.open());
        return;
      }
    }
    await this.open();
  }

  /** One connection: resolves once it subscribed, or once it closed. */
  private open(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const sub = this.connection();
    if (!sub) {
      this.reopenLater();
      return Promise.resolve();
    }
    this.sub = sub;
    sub.on('message', (channel: string, raw: string) => this.onMessage(channel, raw));
    sub.on('close', () => {
      if (this.sub === sub) this.onDisconnect();
    });
    sub.on('error', () => {
      /* the connection retries; 'close' reported the outage */
    });
    // A Cluster node's connection does not retry (see connection()): the next attempt goes to another node.
    if (isCluster(this.redis)) sub.once('end', () => this.sub === sub && this.reopenLater());
    const subscribed = new Promise<void>((resolve) => {
      sub.on('ready', () => void this.subscribe(sub).then(resolve, resolve));
      sub.once('close', resolve);
    });
    sub.connect().catch(() => undefined);
    return subscribed;
  }

  /**
   * Standalone or Sentinel: a duplicate of the client, retrying by itself. Cluster: a plain
   * connection to one node, not the Cluster client's own subscriber: classic pub/sub is
   * cluster-wide, so any node hears every channel, whereas ioredis's Cluster subscriber moves
   * to another node and resubscribes without telling anyone, and the messages lost meanwhile
   * would go unnoticed until the next sequence gap or heartbeat. Each Cluster attempt takes
   * the next node the Cluster client knows (the last one may be gone for good).
   */
  private connection(): Redis | undefined {
    const redis = this.redis;
    if (!isCluster(redis)) return redis.duplicate({ lazyConnect: true, autoResubscribe: false });
    const nodes = redis.nodes('all');
    if (nodes.length === 0) return undefined;
    const node = nodes[this.attempts++ % nodes.length];
    return node.duplicate({ lazyConnect: true, autoResubscribe: false, enableOfflineQueue: true, retryStrategy: () => null });
  }

  private reopenLater(): void {
    if (this.closed) return;
    // Immediately after a drop (another node is likely up), then backing off while none answers.
    const delay = Math.min(1000, 50 * this.failures++);
    setTimeout(() => void this.open(), delay).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.setHearing(false);
    const sub = this.sub;
    this.sub = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  private onDisconnect(): void {
    if (this.closed) return;
    const wasUp = this.subscribed || this.isHearing;
    this.subscribed = false;
    this.setHearing(false);
    if (wasUp) this.listener.flush('disconnect');
  }

  private async subscribe(sub: Redis): Promise<void> {
    if (sub !== this.sub || this.closed) return;
    await sub.subscribe(...this.options.channels);
    this.failures = 0;
    for (const channel of this.options.channels) this.tracker.reset(channel);
    this.subscribed = true;
    // Anything published while we were not subscribed is lost: start from an empty L1.
    this.listener.flush('connect');
    this.lastHeardAt = Date.now();
    // Without heartbeats (silence detection off) being subscribed is all we can know.
    if (this.silenceMs === 0) this.setHearing(true);
  }

  private onMessage(channel: string, raw: string): void {
    const parsed = parseL1Message(raw);
    let outcome: MessageOutcome;
    if (parsed.kind === 'invalid') outcome = 'invalid';
    else if (parsed.kind === 'unknown-version') outcome = 'unknown-version';
    else if (parsed.kind === 'v1') {
      this.listener.invalidate(channel, parsed.message);
      outcome = 'applied';
    } else {
      const m = parsed.message;
      const verdict = this.tracker.observe(channel, m.stream, m.seq, m.type);
      if (verdict === 'gap') {
        if (m.type === 'invalidate') this.listener.invalidate(channel, m);
        this.listener.flush('gap');
        outcome = 'gap';
      } else if (m.type === 'heartbeat') {
        outcome = 'heartbeat';
      } else {
        // A duplicate is evicted again: idempotent, and cheaper than being wrong.
        this.listener.invalidate(channel, m);
        outcome = verdict === 'duplicate' ? 'duplicate' : 'applied';
      }
    }
    this.listener.outcome?.(channel, outcome);
    if (outcome !== 'invalid' && outcome !== 'unknown-version') {
      this.lastHeardAt = Date.now();
      if (this.subscribed) this.setHearing(true);
    }
  }

  private checkSilence(): void {
    if (!this.isHearing || Date.now() - this.lastHeardAt <= this.silenceMs) return;
    this.setHearing(false);
    this.listener.flush('silence');
  }

  private setHearing(hearing: boolean): void {
    if (this.isHearing === hearing) return;
    this.isHearing = hearing;
    this.listener.hearing(hearing);
  }
}

function isCluster(redis: RedisLike): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}
