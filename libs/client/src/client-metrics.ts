import type { Counter, Gauge, Registry } from 'prom-client';
import type { CacheLayer, FlushReason, MessageOutcome } from './options';

/** Plain counters on the hot path (an L1 hit must cost next to nothing); prom-client reads them at scrape time. */
export class CacheStats {
  readonly hits: Record<CacheLayer, number> = { l1: 0, l2: 0 };
  readonly misses: Record<CacheLayer, number> = { l1: 0, l2: 0 };
  fills = 0;
  negativeFills = 0;
  /** Fills the Lua script refused: the lease was revoked (an invalidation) or had expired. */
  fillsRefused = 0;
  /** L1 fills dropped because an invalidation or flush happened while they were in flight. */
  l1FillsCancelled = 0;
  /** Callers that joined an in-process load whose lease was then revoked, and loaded again. */
  sharedLoadsRetried = 0;
  leaseWaits = 0;
  leaseWaitTimeouts = 0;
  loaderErrors = 0;
  loaderTimeouts = 0;
  /** Reads that went to the loader (or returned a miss) because Redis failed. */
  degraded = 0;
  graceServed = 0;
  readonly flushes: Record<FlushReason, number> = { connect: 0, gap: 0, silence: 0, disconnect: 0, manual: 0 };
  readonly messages: Record<MessageOutcome, number> = { applied: 0, duplicate: 0, gap: 0, heartbeat: 0, 'unknown-version': 0, invalid: 0 };
}

type Source = () => Array<[Record<string, string>, number]>;

/**
 * Registers the client's metrics in the app's registry. Several clients can share one
 * registry (label `cache`): the first creates each metric, the others add their stats to it.
 */
export function registerCacheMetrics(registry: Registry, name: string, stats: CacheStats, l1Size: () => { entries: number; bytes: number }, bypassed: () => boolean): void {
  // Loaded only here: prom-client is an optional peer dependency (an app without metrics need not install it).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Counter, Gauge } = require('prom-client') as typeof import('prom-client');
  const counter = (metric: string, help: string, labelNames: string[], source: Source): void =>
    attach(registry, metric, name, source, () => new Counter({ name: metric, help, labelNames: ['cache', ...labelNames], registers: [registry], collect: collector(metric, registry, false) }));
  const gauge = (metric: string, help: string, source: Source): void =>
    attach(registry, metric, name, source, () => new Gauge({ name: metric, help, labelNames: ['cache'], registers: [registry], collect: collector(metric, registry, true) }));

  counter('cdc_cache_hits_total', 'Reads served from a cache layer.', ['layer'], () => [[{ layer: 'l1' }, stats.hits.l1], [{ layer: 'l2' }, stats.hits.l2]]);
  counter('cdc_cache_misses_total', 'Reads a cache layer could not serve.', ['layer'], () => [[{ layer: 'l1' }, stats.misses.l1], [{ layer: 'l2' }, stats.misses.l2]]);
  counter('cdc_cache_fills_total', 'Values written to Redis by the fill script, by outcome.', ['outcome'], () => [
    [{ outcome: 'stored' }, stats.fills],
    [{ outcome: 'stored_negative' }, stats.negativeFills],
    [{ outcome: 'refused_lease_revoked' }, stats.fillsRefused],
  ]);
  counter('cdc_cache_l1_fills_cancelled_total', 'L1 fills dropped because an invalidation or flush happened while they were in flight.', [], () => [[{}, stats.l1FillsCancelled]]);
  counter('cdc_cache_lease_waits_total', 'Misses that waited for another lease holder, by outcome.', ['outcome'], () => [
    [{ outcome: 'waited' }, stats.leaseWaits],
    [{ outcome: 'timed_out' }, stats.leaseWaitTimeouts],
  ]);
  counter('cdc_cache_shared_loads_retried_total', 'Callers that joined an in-process load whose lease was revoked (or that ran without one), and loaded again.', [], () => [[{}, stats.sharedLoadsRetried]]);
  counter('cdc_cache_loader_failures_total', 'Loader runs that threw or timed out.', ['reason'], () => [
    [{ reason: 'error' }, stats.loaderErrors],
    [{ reason: 'timeout' }, stats.loaderTimeouts],
  ]);
  counter('cdc_cache_degraded_reads_total', 'Reads that bypassed Redis because it failed or did not answer in time.', [], () => [[{}, stats.degraded]]);
  counter('cdc_cache_grace_served_total', 'Stale L1 copies served under grace (expired by TTL, never invalidated).', [], () => [[{}, stats.graceServed]]);
  counter('cdc_cache_l1_flushes_total', 'L1 flushes, by reason.', ['reason'], () => Object.entries(stats.flushes).map(([reason, v]) => [{ reason }, v]));
  counter('cdc_cache_l1_messages_total', 'Invalidation messages heard, by outcome.', ['outcome'], () => Object.entries(stats.messages).map(([outcome, v]) => [{ outcome }, v]));
  gauge('cdc_cache_l1_entries', 'Entries in L1.', () => [[{}, l1Size().entries]]);
  gauge('cdc_cache_l1_bytes', 'Estimated bytes in L1.', () => [[{}, l1Size().bytes]]);
  gauge('cdc_cache_l1_bypassed', '1 while L1 is bypassed because invalidations cannot be heard.', () => [[{}, bypassed() ? 1 : 0]]);
}

const sources = new WeakMap<Registry, Map<string, Map<string, Source>>>();

function attach(registry: Registry, metric: string, cache: string, source: Source, create: () => void): void {
  let byMetric = sources.get(registry);
  if (!byMetric) sources.set(registry, (byMetric = new Map()));
  let byCache = byMetric.get(metric);
  if (!byCache) byMetric.set(metric, (byCache = new Map()));
  byCache.set(cache, source);
  if (!registry.getSingleMetric(metric)) create();
}

function collector(metric: string, registry: Registry, isGauge: boolean) {
  return function (this: Counter<string> | Gauge<string>): void {
    const byCache = sources.get(registry)?.get(metric);
    this.reset();
    if (!byCache) return;
    for (const [cache, source] of byCache) {
      for (const [labels, value] of source()) {
        const all = { cache, ...labels };
        if (isGauge) (this as Gauge<string>).set(all, value);
        else (this as Counter<string>).inc(all, value);
      }
    }
  };
}

/** Removes one client's sources (on close) so a closed client stops being reported. */
export function unregisterCacheMetrics(registry: Registry, cache: string): void {
  const byMetric = sources.get(registry);
  if (byMetric) for (const byCache of byMetric.values()) byCache.delete(cache);
}
