import { counter, gauge } from '@cdc/core';

/** 1 while this process holds the leader lock, else 0. */
export const leaderGauge = gauge('cdc_leader', 'Whether this replica holds the leader lock (1) or stands by (0)');

export const leaderTransitions = counter(
  'cdc_leader_transitions_total',
  'Leader election role changes, by the role entered',
  ['to'] as const,
);
