import { counter, gauge } from '@cdc/core';

/** Metrics of the Postgres source (registered once per process; the helpers are idempotent). */
export const sourceMetrics = {
  events: counter('cdc_source_events_total', 'Change events decoded by a source', ['source', 'table', 'op']),
  bytes: counter('cdc_source_bytes_total', 'Bytes of change data received by a source', ['source']),
  paused: gauge('cdc_source_paused', '1 while the source input is paused by backpressure', ['source']),
  buffered: gauge('cdc_source_buffered_events', 'Decoded events waiting to be read', ['source']),
  restreams: counter('cdc_source_restreams_total', 'Decoded events dropped and streamed again because the rules came to read columns they were decoded without', ['source']),
  reconnects: counter('cdc_source_reconnects_total', 'Reconnections of a source after a lost connection', ['source']),
  confirmedLsn: gauge('cdc_source_confirmed_lsn', 'Last LSN confirmed to Postgres (flush position), as a number', ['source']),
  skipped: counter('cdc_source_skipped_total', 'Source messages deliberately not turned into events', ['source', 'reason']),
  deadLetters: counter('cdc_source_dead_letters_total', 'Source messages sent to the dead-letter place', ['source']),
  visibilityWaits: counter('cdc_source_visibility_waits_total', 'Batches held back because a committed transaction was not visible to new snapshots yet', ['source']),
  visibilityWaitSeconds: counter('cdc_source_visibility_wait_seconds_total', 'Time batches were held back waiting for their transactions to become visible', ['source']),
};

export const slotMetrics = {
  lagBytes: gauge('cdc_replication_slot_lag_bytes', 'pg_current_wal_lsn() - confirmed_flush_lsn of the slot', ['slot']),
  walStatus: gauge('cdc_replication_slot_wal_status', '1 for the slot\'s current wal_status (reserved, extended, unreserved, lost)', ['slot', 'status']),
  safeWalSize: gauge('cdc_replication_slot_safe_wal_size_bytes', 'Bytes of WAL that can still be written before the slot is lost; -1 when unlimited', ['slot']),
  active: gauge('cdc_replication_slot_active', '1 while a consumer is attached to the slot', ['slot']),
};
