import { counter, gauge } from '@cdc/core';

export type ReloadOutcome = 'applied' | 'invalid' | 'unchanged';

/** Metrics of the rules file and its hot reload (the CdcRulesInvalid alert reads cdc_rules_valid). */
export const rulesMetrics = {
  valid: gauge('cdc_rules_valid', '1 when the mounted rules file compiled and is in effect; 0 while a newer file is rejected (the last good rules keep running)'),
  reloads: counter('cdc_rules_reload_total', 'Rules reload attempts after a change of the rules directory, by outcome', ['outcome']),
  info: gauge('cdc_rules_info', 'Always 1, labelled with the sha256 of the rules file in effect', ['hash']),
};

/** Sets the gauges for the rules now in effect; every outcome label is present from the start so dashboards see zeros. */
export function recordRulesInEffect(hash: string): void {
  rulesMetrics.info.reset();
  rulesMetrics.info.set({ hash }, 1);
  rulesMetrics.valid.set(1);
  for (const outcome of ['applied', 'invalid', 'unchanged'] as const) rulesMetrics.reloads.inc({ outcome }, 0);
}

export function recordReload(outcome: ReloadOutcome): void {
  rulesMetrics.reloads.inc({ outcome });
  if (outcome === 'invalid') rulesMetrics.valid.set(0);
}
