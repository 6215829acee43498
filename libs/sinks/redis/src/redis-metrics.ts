import { LATENCY_BUCKETS_SECONDS, counter, histogram } from '@cdc/core';

/** Metrics of the Redis sinks, declared once per process (the helpers are idempotent). */
export const redisMetrics = {
  keysUnlinked: counter('cdc_redis_keys_unlinked_total', 'Keys removed from Redis by UNLINK (keys, tag members, pattern matches, and their leases)'),
  patternReservedSkipped: counter(
    'cdc_redis_pattern_reserved_skipped_total',
    'Keys under the reserved prefix (cdc:) that matched a pattern and were left in place',
  ),
  rejectedActions: counter('cdc_redis_rejected_actions_total', 'Keys, tags and patterns Redis refused for good (reported for dead-lettering)', ['kind']),
  slotRefreshes: counter('cdc_redis_slot_refreshes_total', 'Cluster slot map refreshes the sinks asked for after a MOVED or ASK reply'),
  commands: counter('cdc_redis_commands_total', 'Redis commands sent by the sinks', ['command']),
  patternScanTruncated: counter(
    'cdc_redis_pattern_scan_truncated_total',
    'Pattern invalidations stopped at maxPatternKeys; the remaining matching keys were left in place',
  ),
  sinkErrors: counter('cdc_sink_errors_total', 'Failed sink applies', ['sink']),
  sinkApplySeconds: histogram('cdc_sink_apply_seconds', 'Time to apply one invalidation batch in a sink', ['sink'], LATENCY_BUCKETS_SECONDS),
  l1MessagesPublished: counter('cdc_l1_messages_published_total', 'L1 eviction messages published on Redis pub/sub', ['channel']),
  deadLetters: counter('cdc_dead_letters_total', 'Events written to the dead-letter stream', ['source']),
};
