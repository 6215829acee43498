import { Injectable } from '@nestjs/common';
import { ChangeSource } from '@cdc/core';
import { InvalidationPipeline } from '@cdc/pipeline';

export type WorkerRole = 'starting' | 'standby' | 'active' | 'stopping';

export interface WorkerStatus {
  role: WorkerRole;
  pipeline: string;
  source: string;
  sourceName?: string;
  lastAppliedPosition?: string;
  lastAppliedAt?: string;
  error?: string;
  /** Why the stream is not running yet (the last start failure, while retrying). */
  reason?: string;
}

/** One place that knows what this replica is doing, read by health probes and the admin API. */
@Injectable()
export class WorkerStatusService {
  role: WorkerRole = 'starting';
  /** Set while a start is being attempted or retried: 'connecting' or the last failure. */
  waiting?: string;
  private pipeline?: InvalidationPipeline;
  private source?: ChangeSource;
  private failure?: string;

  attach(pipeline: InvalidationPipeline, source: ChangeSource): void {
    this.pipeline = pipeline;
    this.source = source;
  }

  fail(reason: string): void {
    this.failure = reason;
  }

  snapshot(): WorkerStatus {
    const p = this.pipeline;
    return {
      role: this.role,
      pipeline: this.failure ? 'failed' : (p?.state ?? 'idle'),
      source: this.source?.status ?? 'idle',
      sourceName: this.source?.name,
      lastAppliedPosition: p?.lastAppliedPosition || undefined,
      lastAppliedAt: p?.lastAppliedAtMs ? new Date(p.lastAppliedAtMs).toISOString() : undefined,
      error: this.failure ?? p?.error,
      reason: this.waiting,
    };
  }
}
