import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { CodeFacts, defaultMetricsPrefix, defaultProcessMetrics } from './code-facts';
import { PENDING_IN_CODE, one, renderedSets } from './deploy-set';
import { K8sObject } from './kustomize';
import { bracketProblems, cdcSelectors, declaredName, groupingLabels } from './promql';
import { readRepoFile } from '../support/repo-files';

const code = new CodeFacts();
const declared = code.declaredMetrics();
const histograms = new Set([...declared.values()].filter((m) => m.type === 'histogram').map((m) => m.name));
const prefix = defaultMetricsPrefix();
const processMetrics = prefix ? defaultProcessMetrics(prefix) : new Set<string>();
/** Labels Prometheus adds to every series it scrapes (target labels) and histogram buckets. */
const TARGET_LABELS = new Set(['namespace', 'pod', 'instance', 'job', 'service', 'container', 'endpoint', 'le']);

interface Alert {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string; runbook_url: string };
}

const sets = renderedSets();
const alerts: Array<Alert & { where: string }> = sets
  .filter((s) => s.name !== 'base')
  .flatMap((s) => s.objects.filter((o) => o.kind === 'PrometheusRule').map((o) => ({ set: s.name, o })))
  .flatMap(({ set, o }) => (o.spec as { groups: Array<{ rules: Alert[] }> }).groups.flatMap((g) => g.rules.map((r) => ({ ...r, where: `${set}: ${o.metadata.name}` }))));
const uniqueAlerts = [...new Map(alerts.map((a) => [a.alert, a])).values()];

const dashboardConfigMap = one(sets.find((s) => s.name === 'base')!.objects, 'ConfigMap', 'cdc-invalidator-dashboard') as K8sObject & { data: Record<string, string> };
const dashboardKey = Object.keys(dashboardConfigMap.data)[0];
const dashboard = JSON.parse(dashboardConfigMap.data[dashboardKey]) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const dashboardExprs = panels.flatMap((p) => p.targets.map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr })));
const allExprs = [...uniqueAlerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr })), ...dashboardExprs];

interface Dashboard {
  uid: string;
  title: string;
  templating: { list: Array<{ name: string; type: string }> };
  panels: Array<{ id: number; type: string; title: string; datasource?: { uid: string }; targets: Array<{ refId: string; expr: string }> }>;
}

describe('monitoring: alerts and dashboard agree with the code', () => {
  it('every cdc_ metric an alert or a panel uses is declared by the code', (t) => {
    assert.ok(prefix, 'libs/core/src/metrics.ts registers default metrics with a prefix');
    const missing = new Set<string>();
    const pending = new Set<string>();
    for (const { where, expr } of allExprs) {
      const selectors = cdcSelectors(expr);
      assert.ok(selectors.length > 0 || /\bup\{/.test(expr), `${where}: selects no cdc_ metric`);
      for (const s of selectors) {
        const name = declaredName(s.name, histograms);
        if (declared.has(name) || code.mentionsMetric(name) || processMetrics.has(name)) continue;
        if (PENDING_IN_CODE.metrics.has(name)) pending.add(name);
        else missing.add(`${name} (${where})`);
      }
    }
    assert.deepEqual([...missing], [], 'metrics not found in apps/ or libs/');
    for (const name of PENDING_IN_CODE.metrics) {
      assert.ok(!declared.has(name) && !code.mentionsMetric(name), `${name} exists now: remove it from PENDING_IN_CODE`);
    }
    if (pending.size) t.diagnostic(`metrics not in the code yet: ${[...pending].join(', ')}`);
  });

  it('histogram series are used with their suffixes and only on histograms', () => {
    for (const { where, expr } of allExprs) {
      for (const s of cdcSelectors(expr)) {
        if (histograms.has(s.name)) assert.fail(`${where}: ${s.name} is a histogram; select ${s.name}_bucket/_sum/_count`);
        if (/histogram_quantile/.test(expr) && /_bucket$/.test(s.name)) assert.ok(histograms.has(s.name.replace(/_bucket$/, '')), `${where}: ${s.name} is not a histogram's bucket`);
      }
      if (/histogram_quantile/.test(expr)) assert.ok(groupingLabels(expr).includes('le'), `${where}: histogram_quantile needs "by (le)"`);
    }
  });

  it('label matchers and groupings name labels the metrics carry', () => {
    for (const { where, expr } of allExprs) {
      const known = new Set(TARGET_LABELS);
      for (const s of cdcSelectors(expr)) {
        const m = declared.get(declaredName(s.name, histograms));
        if (!m) continue; // pending or a default process metric: names checked above
        for (const l of m.labels) known.add(l);
        for (const label of s.matchers) assert.ok(known.has(label), `${where}: ${s.name} has no label "${label}" (labels: ${[...m.labels].join(', ') || 'none'})`);
      }
      for (const label of groupingLabels(expr)) {
        const usesOnlyDeclared = cdcSelectors(expr).every((s) => declared.has(declaredName(s.name, histograms)));
        if (usesOnlyDeclared) assert.ok(known.has(label), `${where}: groups by "${label}", which no selected metric carries`);
      }
    }
  });

  it('expressions are bracket-balanced', () => {
    for (const { where, expr } of allExprs) assert.deepEqual(bracketProblems(expr), [], where);
  });

  it('every alert has a severity, summary, description and a runbook anchor that exists in docs/operations.md', () => {
    const anchors = markdownAnchors(readRepoFile('docs', 'operations.md'));
    const names = new Set<string>();
    for (const a of alerts) {
      assert.ok(!names.has(a.alert) || uniqueAlerts.find((u) => u.alert === a.alert)!.expr === a.expr, `${a.where}: alert ${a.alert} defined twice differently`);
      names.add(a.alert);
      assert.ok(['warning', 'critical'].includes(a.labels.severity), `${a.alert}: severity`);
      assert.ok(a.annotations.summary && a.annotations.description.length > 40, `${a.alert}: summary and description`);
      const url = new URL(a.annotations.runbook_url);
      assert.ok(url.pathname.endsWith('/docs/operations.md'), `${a.alert}: runbook_url must point at docs/operations.md`);
      const anchor = url.hash.slice(1);
      assert.ok(anchors.has(anchor), `${a.alert}: docs/operations.md has no heading for #${anchor}`);
    }
  });

  it('the alerts cover the failure modes operators must hear about', () => {
    const covers = (pattern: RegExp) => uniqueAlerts.some((a) => pattern.test(a.expr));
    const required: Record<string, RegExp> = {
      'replication slot lag': /cdc_replication_slot_lag_bytes/,
      'slot WAL unreserved': /cdc_replication_slot_wal_status\{[^}]*status="unreserved"/,
      'slot lost': /cdc_replication_slot_wal_status\{[^}]*status="lost"/,
      'invalidation lag p99': /histogram_quantile\(\s*0\.99[\s\S]*cdc_commit_to_applied_seconds_bucket/,
      'CDN outbox age': /cdc_cdn_outbox_oldest_age_seconds/,
      'dead letters increasing': /increase\(\s*cdc_dead_letters_total/,
      'CDN dead letters increasing': /increase\(\s*cdc_cdn_dead_letters_total/,
      'no active replica': /cdc_leader\b/,
      'rules reload failing': /cdc_rules_(valid|reload_total)/,
      'Kafka consumer lag': /cdc_kafka_consumer_lag/,
    };
    for (const [what, pattern] of Object.entries(required)) assert.ok(covers(pattern), `no alert for ${what}`);
  });

  it('the dashboard is a Grafana dashboard the sidecar picks up, with a templated data source', () => {
    assert.equal((dashboardConfigMap.metadata.labels as Record<string, string> | undefined)?.grafana_dashboard, '1');
    assert.match(dashboardKey, /\.json$/);
    assert.ok(dashboard.uid && dashboard.title);
    assert.ok(dashboard.templating.list.some((v) => v.type === 'datasource' && v.name === 'datasource'));
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids must be unique');
    for (const p of panels) {
      assert.equal(p.datasource?.uid, '${datasource}', `panel "${p.title}" data source`);
      assert.ok(p.targets.length > 0 && p.targets.every((t) => t.expr.trim() && t.refId), `panel "${p.title}" needs queries`);
    }
    const shown = new Set(dashboardExprs.flatMap((e) => cdcSelectors(e.expr).map((s) => declaredName(s.name, histograms))));
    for (const key of ['cdc_pipeline_events_total', 'cdc_commit_to_applied_seconds', 'cdc_replication_slot_lag_bytes', 'cdc_kafka_consumer_lag', 'cdc_cdn_outbox_depth', 'cdc_errors_total']) {
      assert.ok(shown.has(key), `the dashboard should show ${key}`);
    }
  });
});

/** GitHub's heading anchors (lower case, punctuation dropped, spaces to dashes) plus explicit <a id>. */
function markdownAnchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    out.add(m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s/g, '-'));
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]);
  return out;
}
