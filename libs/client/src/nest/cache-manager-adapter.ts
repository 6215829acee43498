import type { CacheClient } from '../cache-client';

/**
 * The cache-manager (v6/v7) surface Nest apps use through `@Inject(CACHE_MANAGER)`, served by
 * the CacheClient. TTLs are milliseconds, as in cache-manager. `clear()` drops only this
 * process's L1: wiping a shared Redis is not a cache operation.
 */
export class CacheManagerAdapter {
  constructor(readonly client: CacheClient) {}

  get<T>(key: string): Promise<T | undefined> {
    return this.client.get<T>(key);
  }

  mget<T>(keys: string[]): Promise<Array<T | undefined>> {
    return this.client.mget<T>(keys);
  }

  async set<T>(key: string, value: T, ttl?: number): Promise<T> {
    await this.client.set(key, value, ttl !== undefined && ttl > 0 ? { ttlMs: ttl } : {});
    return value;
  }

  async mset<T>(list: Array<{ key: string; value: T; ttl?: number }>): Promise<Array<{ key: string; value: T; ttl?: number }>> {
    for (const { key, value, ttl } of list) await this.set(key, value, ttl);
    return list;
  }

  async del(key: string): Promise<boolean> {
    await this.client.delete(key);
    return true;
  }

  async mdel(keys: string[]): Promise<boolean> {
    for (const key of keys) await this.client.delete(key);
    return true;
  }

  wrap<T>(key: string, fn: () => T | Promise<T>, ttl?: number): Promise<T> {
    return this.client.getOrSet<T>(key, () => fn(), ttl !== undefined && ttl > 0 ? { ttlMs: ttl } : {}) as Promise<T>;
  }

  async clear(): Promise<boolean> {
    this.client.flushL1('manual');
    return true;
  }

  async disconnect(): Promise<undefined> {
    await this.client.close();
    return undefined;
  }
}
