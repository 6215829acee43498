import { formatProblem, metricsRegistry } from '@cdc/core';
import { formatLsn } from '@cdc/source-postgres';
import { WorkerStatus } from '../../pipeline/worker-status.service';
import { RulesState } from '../../rules/rules.service';

/** GET /admin/rules: the rules in effect, what they watch, and how the last reload went. */
export function rulesView(state: RulesState): Record<string, unknown> {
  const { rules, reload } = state;
  return {
    file: rules.file,
    hash: rules.hash,
    loadedAt: state.loadedAt,
    defaultChannels: rules.defaultChannels,
    tables: rules.tablePatterns(),
    cdnAliases: rules.cdnAliases,
    rules: rules.rules.map((r) => ({
      name: r.name,
      ...(r.description ? { description: r.description } : {}),
      tables: r.tables,
      ops: r.ops,
      at: `${r.location.file}:${r.location.line}:${r.location.column}`,
    })),
    warnings: rules.warnings.map(formatProblem),
    reload: {
      enabled: reload.enabled,
      pollIntervalMs: reload.pollIntervalMs,
      ...(reload.last
        ? { last: { outcome: reload.last.outcome, trigger: reload.last.trigger, at: reload.last.at, hash: reload.last.hash, problems: reload.last.problems.map(formatProblem) } }
        : {}),
    },
  };
}

/** Gauges the status reads from the process registry; a gauge no component registered is left out. */
const STATUS_GAUGES = {
  confirmedLsn: 'cdc_source_confirmed_lsn',
  sourcePaused: 'cdc_source_paused',
  sourceBufferedEvents: 'cdc_source_buffered_events',
  slotLagBytes: 'cdc_replication_slot_lag_bytes',
  kafkaConsumerLag: 'cdc_kafka_consumer_lag',
  leader: 'cdc_leader',
  cdnOutboxDepth: 'cdc_cdn_outbox_depth',
  cdnOutboxOldestAgeSeconds: 'cdc_cdn_outbox_oldest_age_seconds',
} as const;

type GaugeName = keyof typeof STATUS_GAUGES;
type GaugeValues = Partial<Record<GaugeName, Array<{ labels: Record<string, string | number>; value: number }>>>;

async function readGauges(): Promise<GaugeValues> {
  const out: GaugeValues = {};
  for (const [field, name] of Object.entries(STATUS_GAUGES) as Array<[GaugeName, string]>) {
    const metric = metricsRegistry.getSingleMetric(name);
    if (!metric) continue;
    const { values } = await metric.get();
    if (values.length > 0) out[field] = values.map((v) => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value }));
  }
  return out;
}

const sum = (values?: Array<{ value: number }>): number | undefined => (values?.length ? values.reduce((n, v) => n + v.value, 0) : undefined);
const first = (values?: Array<{ value: number }>): number | undefined => values?.[0]?.value;

export interface StatusContext {
  readonly rulesHash: string;
  /** The CDN outbox sink runs in this process (its gauges mean something). */
  readonly cdnOutbox: boolean;
  readonly leaderElection: boolean;
}

/** GET /admin/status: role, positions, lag and the CDN outbox, from the status service and the metric gauges. */
export async function statusView(status: WorkerStatus, ctx: StatusContext): Promise<Record<string, unknown>> {
  const g = await readGauges();
  const confirmed = first(g.confirmedLsn);
  const lastAt = status.lastAppliedAt ? Date.parse(status.lastAppliedAt) : undefined;
  return {
    role: status.role,
    pipeline: status.pipeline,
    ...(status.error ? { error: status.error } : {}),
    source: {
      name: status.sourceName,
      status: status.source,
      // Only a Postgres slot reports a confirmed LSN (the gauge has no value under another source).
      ...(confirmed !== undefined ? { confirmedPosition: formatLsn(BigInt(Math.trunc(confirmed))) } : {}),
      ...(g.sourcePaused ? { paused: sum(g.sourcePaused)! > 0 } : {}),
      ...(g.sourceBufferedEvents ? { bufferedEvents: sum(g.sourceBufferedEvents) } : {}),
      ...(ctx.leaderElection && g.leader ? { leader: first(g.leader) === 1 } : {}),
    },
    lastApplied: {
      position: status.lastAppliedPosition ?? null,
      at: status.lastAppliedAt ?? null,
      secondsAgo: lastAt !== undefined ? Math.max(0, (Date.now() - lastAt) / 1000) : null,
    },
    lag: {
      ...(g.slotLagBytes ? { replicationSlotBytes: sum(g.slotLagBytes) } : {}),
      ...(g.kafkaConsumerLag ? { kafkaMessages: sum(g.kafkaConsumerLag) } : {}),
    },
    ...(ctx.cdnOutbox && g.cdnOutboxDepth ? { cdnOutbox: { depth: first(g.cdnOutboxDepth), oldestAgeSeconds: first(g.cdnOutboxOldestAgeSeconds) ?? 0 } } : {}),
    rulesHash: ctx.rulesHash,
  };
}
