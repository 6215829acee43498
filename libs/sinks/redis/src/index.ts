export { RedisClient, connectRedis, createRedisClient, describeRedisTarget, isClusterClient } from './redis-client';
export {
  DEFAULT_REDIS_URL,
  REDIS_CONFIG,
  RedisClusterConfig,
  RedisConfig,
  RedisHostPort,
  RedisSentinelConfig,
  RedisStandaloneConfig,
  checkRedisUrl,
  redisConfigFromEnv,
} from './redis-config';
export { isConnectionError, toRedisSinkError } from './redis-errors';
export { RedisInvalidationSink, RedisInvalidationSinkOptions } from './redis-invalidation-sink';
export { TagMembersReadHook, TagStep, TagStepHook } from './tag-invalidator';
export { L1PubSubSink, L1PubSubSinkOptions } from './l1-pubsub-sink';
export { L1InvalidationMessage, L1MessageContext, L1Payload, L1_MESSAGE_VERSION, buildL1Messages } from '@cdc/protocol';
export {
  DEFAULT_DEAD_LETTER_STREAM,
  RedisDeadLetterSink,
  RedisDeadLetterSinkOptions,
  StoredDeadLetter,
  deleteDeadLetters,
  getDeadLetters,
  listDeadLetters,
  readDeadLetters,
  serializePayload,
} from './dead-letter-sink';
export { KeyCommand, SlotCommand, SlotOf, clusterSlotOf, groupBySlot, multiKeyCommands, singleSlotOf } from './slot-grouping';
