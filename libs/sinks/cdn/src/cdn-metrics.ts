import { counter, gauge, histogram } from '@cdc/core';

/** Metrics the CDN outbox and purge worker own. */
export const cdnMetrics = {
  requests: counter('cdc_cdn_purge_requests_total', 'CDN purge API requests, by provider and outcome', ['provider', 'status']),
  itemsPurged: counter('cdc_cdn_items_purged_total', 'Items (URLs, tags, hosts, prefixes, paths) in successful purge requests', ['provider', 'kind']),
  outboxDepth: gauge('cdc_cdn_outbox_depth', 'Outbox entries not yet purged (including entries being worked on)'),
  oldestAge: gauge('cdc_cdn_outbox_oldest_age_seconds', 'Age of the oldest outbox entry not yet purged'),
  deadLetters: counter('cdc_cdn_dead_letters_total', 'Outbox entries moved to the dead-letter stream', ['provider']),
  collapsed: counter('cdc_cdn_collapsed_total', 'Wildcard/prefix purges that replaced many paths under one prefix', ['provider']),
  commitToPurge: histogram(
    'cdc_cdn_commit_to_purge_seconds',
    'Time from the batch commit to the first purge request for it leaving',
    ['provider'],
    [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  ),
  appended: counter('cdc_cdn_outbox_appended_total', 'Outbox entries appended by the sink', ['provider']),
  claimed: counter('cdc_cdn_outbox_claimed_total', 'Pending entries claimed from a dead or stuck worker'),
};
