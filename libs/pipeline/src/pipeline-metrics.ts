import { LATENCY_BUCKETS_SECONDS, counter, histogram } from '@cdc/core';

/** Metrics the pipeline owns. Sources and sinks declare their own next to their code. */
export const pipelineMetrics = {
  events: counter('cdc_pipeline_events_total', 'Change events that entered the rules stage, by table and operation', ['table', 'op']),
  unmatched: counter('cdc_events_unmatched_total', 'Change events that no rule matched (counted, not an error)', ['table', 'op']),
  ruleMatches: counter('cdc_rule_matches_total', 'Rule matches, by rule', ['rule']),
  missingValues: counter(
    'cdc_rule_missing_values_total',
    'Templates skipped because the event could not supply a value (unchanged TOAST, column not in the old tuple)',
    ['rule', 'column', 'reason'],
  ),
  actions: counter('cdc_actions_total', 'Invalidation actions applied after coalescing, by kind', ['kind']),
  coalesced: counter('cdc_actions_coalesced_total', 'Actions dropped because the same action was already in the batch'),
  batches: counter('cdc_batches_total', 'Invalidation batches applied, by outcome', ['outcome']),
  batchEvents: histogram('cdc_batch_events', 'Change events per invalidation batch', [], [1, 2, 5, 10, 50, 100, 500, 1000, 5000, 20000]),
  batchActions: histogram('cdc_batch_actions', 'Actions per invalidation batch after coalescing', [], [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 20000]),
  errors: counter('cdc_errors_total', 'Errors by stage and whether they were retried', ['stage', 'retriable']),
  sinkRetries: counter('cdc_sink_retries_total', 'Sink apply attempts that failed and were retried', ['sink']),
  deadLetters: counter('cdc_dead_letters_total', 'Dead letters durably stored (failed rules, rejected actions, rejected batches)', ['source']),
  rejectedActions: counter('cdc_sink_rejected_actions_total', 'Actions a sink rejected for good (each is dead-lettered), by sink and kind', ['sink', 'kind']),
  ruleFailures: counter('cdc_rule_failures_total', 'A rule that threw on an event (only that rule\'s output is lost; it is dead-lettered)', ['rule']),
  deadLetterWriteRetries: counter(
    'cdc_dead_letter_write_retries_total',
    'Failed writes to the dead-letter store; the position is not confirmed until the write succeeds',
    ['source'],
  ),
  commitToApplied: histogram(
    'cdc_commit_to_applied_seconds',
    'Time from the source commit timestamp to Redis acknowledging the invalidation',
    [],
    LATENCY_BUCKETS_SECONDS,
  ),
  commitToDone: histogram(
    'cdc_commit_to_done_seconds',
    'Time from the source commit timestamp to every sink done (Redis, L1 pub/sub, CDN outbox) and the position acked',
    [],
    LATENCY_BUCKETS_SECONDS,
  ),
};
