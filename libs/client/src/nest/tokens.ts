/** Injection token of the CacheClient. */
export const CACHE_CLIENT = Symbol.for('@cdc/cache-client:CacheClient');
/** Injection token of the module's options. */
export const CACHE_CLIENT_OPTIONS = Symbol.for('@cdc/cache-client:options');
/**
 * The token `@nestjs/cache-manager` exports as CACHE_MANAGER (the same string), so code that
 * does `@Inject(CACHE_MANAGER) cache: Cache` gets the cache-manager-compatible adapter.
 */
export const CACHE_MANAGER = 'CACHE_MANAGER';
