import { PerformanceEntry, PerformanceObserver, constants } from 'node:perf_hooks';
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ChangeSource, InvalidationBatch, InvalidationSink, SourceBatch } from '@cdc/core';
import { RulesProvider } from '@cdc/pipeline';
import { progress } from './bench-util';

/** GC count and total pause while a part runs (perf_hooks 'gc' entries), split by kind. */
export class GcMeter {
  count = 0;
  pauseMs = 0;
  minor = 0;
  major = 0;
  private readonly observer = new PerformanceObserver((list) => this.count_(list.getEntries()));

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  private count_(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) {
      this.count++;
      this.pauseMs += e.duration;
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) this.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.major++;
    }
  }

  /**
   * Stops observing. Entries are delivered asynchronously (and not at all while a part keeps
   * the loop in microtasks), so let the last ones arrive and take whatever is still queued.
   */
  async stop(): Promise<GcSummary> {
    await new Promise((r) => setImmediate(r));
    this.count_(this.observer.takeRecords());
    this.observer.disconnect();
    return { count: this.count, minor: this.minor, major: this.major, pauseMs: this.pauseMs };
  }
}

export interface GcSummary {
  count: number;
  minor: number;
  major: number;
  pauseMs: number;
}

export function gcText(gc: GcSummary): string {
  return `${gc.count} GCs (${gc.minor} minor, ${gc.major} major), ${gc.pauseMs.toFixed(0)} ms pause`;
}

/** Process CPU (user + system) over a part. */
export class CpuMeter {
  private readonly start = process.cpuUsage();
  stopMs(): number {
    const d = process.cpuUsage(this.start);
    return (d.user + d.system) / 1000;
  }
}

/**
 * The machine's busy share of all its cores (os.cpus() times) from construction to stop():
 * on this 2-core box the worker, Postgres and Redis share the cores, so a phase that keeps the
 * machine near 100 % busy loses throughput to any CPU another process adds.
 */
export class MachineMeter {
  private readonly start = machineTimes();
  stopPercent(): number {
    const end = machineTimes();
    return ((end.busy - this.start.busy) / Math.max(1, end.total - this.start.total)) * 100;
  }
}

function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/**
 * A CPU profile of one part only (BENCH_PROFILE=dir): the inspector profiler runs in this
 * process around the part, so setup, the producers and the baselines stay out of it.
 */
export class PartProfile {
  private readonly session?: Session;
  private readonly started?: Promise<void>;

  constructor(private readonly name: string) {
    if (!process.env.BENCH_PROFILE) return;
    this.session = new Session();
    this.session.connect();
    const post = (method: string, params?: object) => new Promise<void>((resolve, reject) => this.session!.post(method, params ?? {}, (err) => (err ? reject(err) : resolve())));
    this.started = post('Profiler.enable').then(() => post('Profiler.setSamplingInterval', { interval: 200 })).then(() => post('Profiler.start'));
  }

  async ready(): Promise<void> {
    await this.started;
  }

  async stop(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const profile = await new Promise<object>((resolve, reject) =>
      session.post('Profiler.stop', (err, result) => (err ? reject(err) : resolve((result as { profile: object }).profile))),
    );
    session.disconnect();
    const dir = process.env.BENCH_PROFILE!;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    progress(`cpu profile of ${this.name}: ${file} (node dist/bench/profile-summary.js ${file})`);
  }
}

/**
 * Per-stage time of an instrumented worker run. Synchronous stages (decode, rules,
 * coalescing, ack) are CPU time on the one JS thread; a sink's figure is from its apply()
 * call to the settled promise (its own CPU plus the Redis round trip), summed over batches.
 */
export class StageClock {
  readonly ns = new Map<string, number>();

  add(stage: string, ns: number): void {
    this.ns.set(stage, (this.ns.get(stage) ?? 0) + ns);
  }

  /** Wraps `obj[method]` (own or inherited) so each synchronous call's duration counts toward `stage`. Returns the undo. */
  timeMethod<T extends object>(obj: T, method: keyof T & string, stage: string): () => void {
    const original = obj[method] as unknown as (...a: unknown[]) => unknown;
    const hadOwn = Object.hasOwn(obj, method);
    const clock = this;
    (obj as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      const t = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        clock.add(stage, Number(process.hrtime.bigint() - t));
      }
    };
    return () => {
      if (hadOwn) (obj as Record<string, unknown>)[method] = original;
      else delete (obj as Record<string, unknown>)[method];
    };
  }

  rules(provider: RulesProvider): RulesProvider {
    const rules = provider.current();
    const evaluator = { evaluate: rules.evaluate.bind(rules) };
    this.timeMethod(evaluator, 'evaluate', 'rules');
    return { current: () => evaluator };
  }

  sink(sink: InvalidationSink, stage: string): InvalidationSink {
    const clock = this;
    return Object.assign(Object.create(sink) as InvalidationSink, {
      async apply(batch: InvalidationBatch) {
        const t = process.hrtime.bigint();
        try {
          return await sink.apply(batch);
        } finally {
          clock.add(stage, Number(process.hrtime.bigint() - t));
        }
      },
    });
  }

  /** Times each batch's ack() (source checkpointing and the status update it schedules). */
  source(source: ChangeSource): ChangeSource {
    const clock = this;
    return Object.assign(Object.create(source) as ChangeSource, {
      async read(max: number): Promise<SourceBatch | null> {
        const batch = await source.read(max);
        if (!batch) return batch;
        const ack = batch.ack;
        return {
          ...batch,
          ack: () => {
            const t = process.hrtime.bigint();
            try {
              ack();
            } finally {
              clock.add('ack', Number(process.hrtime.bigint() - t));
            }
          },
        };
      },
    });
  }

  /** µs per row for each stage, in the given order. */
  perRow(rows: number, order: readonly string[]): Array<{ stage: string; usPerRow: number }> {
    return order.filter((s) => this.ns.has(s)).map((stage) => ({ stage, usPerRow: this.ns.get(stage)! / 1000 / rows }));
  }
}

/** Coalescing happens inside the pipeline's batch builder: time InvalidationBatch's two fold steps. */
export function timeCoalescing(clock: StageClock): () => void {
  const undo1 = clock.timeMethod(InvalidationBatch.prototype, 'addEvent', 'coalescing');
  const undo2 = clock.timeMethod(InvalidationBatch.prototype, 'addMatch', 'coalescing');
  return () => {
    undo1();
    undo2();
  };
}
