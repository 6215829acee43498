export { CacheClient } from './cache-client';
export {
  CacheClientEvents,
  CacheClientOptions,
  CacheLayer,
  FlushReason,
  GetOrSetOptions,
  L1Options,
  Loader,
  LoaderContext,
  MessageOutcome,
  RedisLike,
  SetOptions,
  SubscriberOptions,
} from './options';
export { CacheClosedError, CacheConfigError, CacheError, CacheSerializationError, CacheUnavailableError, CacheWrongTypeError, LoaderTimeoutError } from './errors';
export { Serializer, jsonSerializer } from './serializer';
export { InvalidationListener, L1Subscriber } from './l1-subscriber';
export { SeqVerdict, StreamTracker } from './stream-tracker';
export { CacheStats } from './client-metrics';
