export { CacheClientModule, CacheClientModuleAsyncOptions, CacheClientModuleOptions, InjectCacheClient } from './cache-client.module';
export { CacheManagerAdapter } from './cache-manager-adapter';
export { CACHE_FLUSH_EVENT, CacheInvalidationServer, CacheInvalidationServerOptions } from './cache-invalidation.server';
export { CACHE_TAGS_METADATA, CacheTagSpec, CacheTags, CacheTagsInterceptor, resolveTags } from './cache-tags.interceptor';
export { CACHE_CLIENT, CACHE_CLIENT_OPTIONS, CACHE_MANAGER } from './tokens';
