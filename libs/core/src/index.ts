export { ALL_COLUMNS, ColumnDemand } from './column-demand';
export { ChangeEvent, ChangeOp, CHANGE_OPS, ExplicitInvalidation, Row, UNKNOWN, Unknown, isUnknown, qualifiedName } from './change-event';
export { CdnPurge, CdnProvider, MissingValue, RuleMatch } from './actions';
export { ChannelPayload, InvalidationBatch, cdnIdentity } from './invalidation-batch';
export { CheckpointTracker } from './checkpoint-tracker';
export {
  BadEventError,
  CdcError,
  ConfigError,
  LocatedProblem,
  RulesError,
  SourceLocation,
  TransientError,
  errorMessage,
  formatProblem,
  isRetriable,
} from './errors';
export { RetryOptions, backoffDelay, withRetry } from './retry';
export { ChangeSource, SourceBatch, SourceStatus } from './source';
export { DeadLetter, DeadLetterSink, InvalidationSink, RejectedAction, SinkApplyResult } from './sink';
export { LOG_LEVELS, LogLevel, Logger, childLogger, parseLogLevel, redactUrl, rootLogger, REDACT_PATHS } from './logger';
export { CounterBuffer, CounterCell, LATENCY_BUCKETS_SECONDS, collectProcessMetrics, counter, gauge, histogram, metricsRegistry } from './metrics';
export { Clock, nowMs, sleep, wallClock } from './clock';
export { ThrottleStats, TokenBucket } from './token-bucket';
export {
  DEFAULT_EXPLICIT_POLICY,
  DEFAULT_MESSAGE_PREFIX,
  EXPLICIT_KINDS,
  ExplicitInvalidationPolicy,
  ExplicitInvalidationResult,
  ExplicitKind,
  ExplicitRefusal,
  countMalformedExplicitInvalidation,
  parseExplicitInvalidation,
} from './explicit-invalidation';
export { hasUnsafeInteger, parseJsonExact, parseJsonValue } from './exact-json';
export * as field from './config/fields';
export { ConfigOf, ConfigSpec, Env, Field, FieldError, Fields, Values, defineConfig, envProblem, extendConfig, invalidEnvironment, parseBoolean, parseConfig, parseConfigs, parseInteger, readField, readFields } from './config';
