import type Redis from 'ioredis';
import { ConfigError } from '@cdc/core';
import { BackfillCursor, CursorStore } from './cursor-store';

export interface RedisCursorStoreOptions {
  /** Key prefix; the key is `<prefix><schema.table>:<hash of where>`. Default `cdc:backfill:`. */
  readonly prefix?: string;
  /** Expiry of a saved cursor in seconds, so abandoned backfills do not linger. Default: none. */
  readonly ttlSeconds?: number;
}

/**
 * Cursors in Redis, as JSON strings (readable with GET by an operator). The client is
 * the caller's: this store neither connects nor quits it. A save is one SET, durable as
 * far as the Redis deployment's persistence is.
 */
export class RedisCursorStore implements CursorStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisCursorStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'cdc:backfill:';
  }

  keyFor(scope: string): string {
    return `${this.prefix}${scope}`;
  }

  async load(scope: string): Promise<BackfillCursor | undefined> {
    const raw = await this.redis.get(this.keyFor(scope));
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as BackfillCursor;
      if (!Array.isArray(parsed.after) || !Array.isArray(parsed.keyColumns)) throw new Error('missing after/keyColumns');
      return parsed;
    } catch (err) {
      throw new ConfigError(`backfill cursor at ${this.keyFor(scope)} is unreadable (${err instanceof Error ? err.message : String(err)}); delete it to start over`, 'BACKFILL_CURSOR');
    }
  }

  async save(scope: string, cursor: BackfillCursor): Promise<void> {
    const value = JSON.stringify(cursor);
    if (this.options.ttlSeconds) await this.redis.set(this.keyFor(scope), value, 'EX', this.options.ttlSeconds);
    else await this.redis.set(this.keyFor(scope), value);
  }

  async clear(scope: string): Promise<void> {
    await this.redis.del(this.keyFor(scope));
  }
}
