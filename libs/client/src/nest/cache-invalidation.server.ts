import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { BaseRpcContext } from '@nestjs/microservices/ctx-host/base-rpc.context';
import type { L1InvalidationMessage, L1InvalidateMessageV2 } from '@cdc/protocol';
import type { CacheClient } from '../cache-client';
import { InvalidationListener, L1Subscriber } from '../l1-subscriber';
import type { FlushReason, MessageOutcome, RedisLike, SubscriberOptions } from '../options';

/** Handlers with `@EventPattern(CACHE_FLUSH_EVENT)` hear every flush (data: `{ reason }`): drop any local cache you keep. */
export const CACHE_FLUSH_EVENT = 'cdc.cache.flush';

export interface CacheInvalidationServerOptions extends SubscriberOptions {
  /** The Redis client to duplicate for the subscriber connection. */
  readonly redis: RedisLike;
  /** A CacheClient without its own subscriber, whose L1 this transport keeps correct. */
  readonly cache?: CacheClient;
}

/**
 * A `@nestjs/microservices` transport for the worker's L1 messages: `@EventPattern('<channel>')`
 * handlers receive each invalidate message (part) of that channel. Same subscriber as the
 * CacheClient's (L1Subscriber): flush on (re)connect, gap and heartbeat silence, bad messages
 * counted and ignored; heartbeats are not dispatched.
 *
 *   app.connectMicroservice({ strategy: new CacheInvalidationServer({ redis, channels: ['cache-invalidation'], cache }) });
 */
export class CacheInvalidationServer extends Server implements CustomTransportStrategy {
  private subscriber: L1Subscriber | undefined;
  private readonly cacheListener: InvalidationListener | undefined;

  constructor(private readonly options: CacheInvalidationServerOptions) {
    super();
    this.cacheListener = options.cache?.listener();
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    const listener: InvalidationListener = {
      invalidate: (channel: string, message: L1InvalidationMessage | L1InvalidateMessageV2) => {
        this.cacheListener?.invalidate(channel, message);
        this.dispatch(channel, message);
      },
      flush: (reason: FlushReason) => {
        this.cacheListener?.flush(reason);
        this.dispatch(CACHE_FLUSH_EVENT, { reason });
      },
      hearing: (hearing: boolean) => this.cacheListener?.hearing(hearing),
      outcome: (channel: string, outcome: MessageOutcome) => this.cacheListener?.outcome?.(channel, outcome),
    };
    this.subscriber = new L1Subscriber(this.options.redis, this.options, listener);
    this.subscriber.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  async close(): Promise<void> {
    await this.subscriber?.close();
    this.subscriber = undefined;
  }

  on(): void {
    // The subscriber reports its state through flushes (CACHE_FLUSH_EVENT), not transport events.
  }

  unwrap<T>(): T {
    if (!this.subscriber) throw new Error('CacheInvalidationServer is not listening yet');
    return this.subscriber as T;
  }

  private dispatch(pattern: string, data: unknown): void {
    if (!this.getHandlerByPattern(pattern)) return;
    this.handleEvent(pattern, { pattern, data }, new BaseRpcContext([pattern])).catch((err: unknown) => {
      this.logger.error(`handler for ${pattern} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}
