import { cpus } from 'node:os';
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { ChangeEvent, ChangeSource, InvalidationBatch, InvalidationSink, SourceBatch } from '@cdc/core';
import { EventBuffer } from '@cdc/source-postgres/event-buffer';
import { VisibilityGate } from '@cdc/source-postgres/visibility-gate';
import { percentile } from './bench-util';
import { CpuMeter, MachineMeter } from './meters';

/** Where one transaction's commit → Redis time went, per stage (ms between two instants). */
export const LATENCY_STAGES = [
  ['received', 'commit timestamp → change data decoded in the worker'],
  ['taken', 'decoded → taken from the source buffer'],
  ['visible', 'taken → visibility gate passed (handed to the pipeline)'],
  ['submitted', 'handed out → Redis sink submit'],
  ['redis', 'Redis sink submit → Redis reply'],
] as const;

export type LatencyStage = (typeof LATENCY_STAGES)[number][0];

export interface LatencyBreakdown {
  /** Per stage: p50 / p99 over transactions, ms. */
  stages: Array<{ stage: LatencyStage; what: string; p50: number; p99: number }>;
  /** Transactions per Redis batch. */
  batchTx: { batches: number; mean: number; p50: number; p99: number; max: number };
  /** Worker process CPU (user + system) as a share of one core, and the machine's busy share of all cores, during the run. */
  workerCpuPercentOfCore: number;
  machineBusyPercent: number;
  cores: number;
  /** The worker's event-loop delay (perf_hooks), ms: how late a ready socket or timer is served. */
  loopDelay: { p50: number; p99: number; max: number };
  /** Visibility gate: snapshot queries, and calls that found a transaction not visible yet on their first snapshot. */
  gate: { calls: number; snapshots: number; waited: number };
}

/** Instants per transaction, keyed by its commit timestamp (unique at these rates: µs resolution). */
interface Stamps {
  received?: number;
  taken?: number;
  visible?: number;
  submitted?: number;
  redis?: number;
}


/**
 * Stamps each transaction at each stage of the live path, with wrappers only (no change to
 * the worker's code): the source buffer's push (decode of the change data) and take, the
 * source's hand-out (after the visibility gate), and the Redis sink's apply call and reply.
 */
export class LatencyStageClock {
  private readonly tx = new Map<number, Stamps>();
  private readonly batchSizes: number[] = [];
  private readonly undo: Array<() => void> = [];
  private cpu = new CpuMeter();
  private wall0 = performance.now();
  private machine = new MachineMeter();
  private loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  private readonly gate = { calls: 0, snapshots: 0, waited: 0 };

  constructor() {
    const clock = this;
    const proto = VisibilityGate.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const wait = proto.waitUntilVisible;
    const snapshot = proto.snapshot;
    proto.waitUntilVisible = async function (this: unknown, ...args: unknown[]) {
      clock.gate.calls++;
      const started = clock.gate.snapshots;
      try {
        return await wait.apply(this, args);
      } finally {
        // More than one snapshot in one call: the first did not show the transactions visible yet.
        if (clock.gate.snapshots - started > 1) clock.gate.waited++;
      }
    };
    proto.snapshot = function (this: unknown, ...args: unknown[]) {
      clock.gate.snapshots++;
      return snapshot.apply(this, args);
    };
    this.undo.push(() => {
      proto.waitUntilVisible = wait;
      proto.snapshot = snapshot;
    });
    const push = EventBuffer.prototype.pushEvent;
    EventBuffer.prototype.pushEvent = function (this: EventBuffer, event: ChangeEvent) {
      clock.stamp(event.commitTimeMs, 'received');
      push.call(this, event);
    };
    const take = EventBuffer.prototype.take;
    EventBuffer.prototype.take = function (this: EventBuffer, max: number) {
      const run = take.call(this, max);
      const now = performance.now();
      for (const e of run.events) clock.stampAt(e.commitTimeMs, 'taken', now);
      return run;
    };
    this.undo.push(() => {
      EventBuffer.prototype.pushEvent = push;
      EventBuffer.prototype.take = take;
    });
  }

  /** Starts the CPU window (call when the writer starts). */
  begin(): void {
    this.cpu = new CpuMeter();
    this.wall0 = performance.now();
    this.machine = new MachineMeter();
    this.loop.enable();
  }

  source(source: ChangeSource): ChangeSource {
    const clock = this;
    return Object.assign(Object.create(source) as ChangeSource, {
      async read(max: number): Promise<SourceBatch | null> {
        const batch = await source.read(max);
        if (batch) {
          const now = performance.now();
          for (const e of batch.events) clock.stampAt(e.commitTimeMs, 'visible', now);
        }
        return batch;
      },
    });
  }

  sink(sink: InvalidationSink): InvalidationSink {
    const clock = this;
    return Object.assign(Object.create(sink) as InvalidationSink, {
      async apply(batch: InvalidationBatch) {
        const t = performance.now();
        clock.batchSizes.push(batch.commitTimesMs.length);
        try {
          return await sink.apply(batch);
        } finally {
          const r = performance.now();
          for (const c of batch.commitTimesMs) {
            clock.stampAt(c, 'submitted', t);
            clock.stampAt(c, 'redis', r);
          }
        }
      },
    });
  }

  stop(): LatencyBreakdown {
    const cpuMs = this.cpu.stopMs();
    const wallMs = performance.now() - this.wall0;
    const machineBusyPercent = this.machine.stopPercent();
    this.loop.disable();
    this.undo.forEach((u) => u());
    // performance.now() is relative to timeOrigin; commit timestamps are epoch ms.
    const origin = performance.timeOrigin;
    const deltas = new Map<LatencyStage, number[]>(LATENCY_STAGES.map(([s]) => [s, []]));
    for (const [commitMs, s] of this.tx) {
      if (s.redis === undefined || s.received === undefined || s.taken === undefined || s.visible === undefined || s.submitted === undefined) continue;
      deltas.get('received')!.push(origin + s.received - commitMs);
      deltas.get('taken')!.push(s.taken - s.received);
      deltas.get('visible')!.push(s.visible - s.taken);
      deltas.get('submitted')!.push(s.submitted - s.visible);
      deltas.get('redis')!.push(s.redis - s.submitted);
    }
    const sizes = [...this.batchSizes].sort((a, b) => a - b);
    return {
      stages: LATENCY_STAGES.map(([stage, what]) => {
        const v = deltas.get(stage)!.sort((a, b) => a - b);
        return { stage, what, p50: percentile(v, 50), p99: percentile(v, 99) };
      }),
      batchTx: {
        batches: sizes.length,
        mean: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
        p50: percentile(sizes, 50),
        p99: percentile(sizes, 99),
        max: sizes[sizes.length - 1] ?? 0,
      },
      workerCpuPercentOfCore: (cpuMs / wallMs) * 100,
      machineBusyPercent,
      cores: cpus().length,
      loopDelay: { p50: this.loop.percentile(50) / 1e6, p99: this.loop.percentile(99) / 1e6, max: this.loop.max / 1e6 },
      gate: { ...this.gate },
    };
  }

  private stamp(commitMs: number, stage: keyof Stamps): void {
    this.stampAt(commitMs, stage, performance.now());
  }

  /** The first time a transaction reaches a stage counts (a multi-row transaction reaches it once per row). */
  private stampAt(commitMs: number, stage: keyof Stamps, now: number): void {
    let s = this.tx.get(commitMs);
    if (!s) this.tx.set(commitMs, (s = {}));
    s[stage] ??= now;
  }
}
