import { counter, gauge } from '@cdc/core';

/**
 * Metrics of the Kafka source (the helpers are idempotent and shared with the other
 * sources: the same names carry a `source` label).
 */
export const kafkaMetrics = {
  events: counter('cdc_source_events_total', 'Change events decoded by a source', ['source', 'table', 'op']),
  skipped: counter('cdc_source_skipped_total', 'Source messages deliberately not turned into events', ['source', 'reason']),
  deadLetters: counter('cdc_dead_letters_total', 'Events or batches sent to the dead-letter place', ['source']),
  paused: gauge('cdc_source_paused', '1 while the source input is paused by backpressure', ['source']),
  buffered: gauge('cdc_source_buffered_events', 'Decoded events waiting to be read', ['source']),
  lag: gauge('cdc_kafka_consumer_lag', 'High watermark minus the committed offset, per partition', ['topic', 'partition']),
  commits: counter('cdc_kafka_commits_total', 'Offset commits sent by the Kafka source', ['source', 'result']),
  lateAcks: counter('cdc_kafka_late_acks_total', 'Acks for partitions revoked by a rebalance (ignored; the new owner re-delivers)', ['source']),
  consumerRestarts: counter('cdc_kafka_consumer_restarts_total', 'Kafka consumers recreated: kafkajs gave up restarting them, or new topics appeared to subscribe to', ['source']),
  rebalances: counter('cdc_kafka_rebalances_total', 'Consumer group rebalances seen by the Kafka source', ['source']),
};
