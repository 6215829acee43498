import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry for the process. Each library declares its metrics with these helpers
 * (idempotent, so tests that build several instances do not collide); the worker
 * exposes the registry on /metrics. Names start with `cdc_`.
 */
export const metricsRegistry = new Registry();
let defaultsCollected = false;

export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry, prefix: 'cdc_' });
}

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  const existing = metricsRegistry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames: [...labelNames], registers: [metricsRegistry] });
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  const existing = metricsRegistry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ name, help, labelNames: [...labelNames], registers: [metricsRegistry] });
}

export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
): Histogram<L> {
  const existing = metricsRegistry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ name, help, labelNames: [...labelNames], buckets, registers: [metricsRegistry] });
}

/** Latency buckets in seconds, fine-grained below 10 ms where the invalidation budget lives. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * Counts in plain integers on the hot path and adds them to a prom-client counter in one go
 * at `flush()`: label hashing on every event costs a measurable share of throughput.
 */
export class CounterBuffer<L extends string> {
  private pending = new Map<string, CounterCell<L>>();

  constructor(private readonly target: Counter<L>) {}

  /**
   * `key` identifies the label set; `labels` is only called the first time a key is seen (it
   * gets the key, so a caller can pass one function instead of a closure per call).
   */
  add(key: string, labels: (key: string) => Partial<Record<L, string>>, n = 1): void {
    this.cell(key, labels).n += n;
  }

  /** The count of one label set, for a caller that adds to the same one many times in a row. Valid until the next flush(). */
  cell(key: string, labels: (key: string) => Partial<Record<L, string>>): CounterCell<L> {
    let entry = this.pending.get(key);
    if (!entry) this.pending.set(key, (entry = { labels: labels(key), n: 0 }));
    return entry;
  }

  flush(): void {
    for (const entry of this.pending.values()) {
      if (entry.n > 0) this.target.inc(entry.labels, entry.n);
      entry.n = 0;
    }
    // Keep the keys (and their label objects) for reuse; bound them so a stream of distinct tables cannot grow it.
    if (this.pending.size > 10_000) this.pending = new Map();
  }
}

export interface CounterCell<L extends string> {
  readonly labels: Partial<Record<L, string>>;
  n: number;
}
