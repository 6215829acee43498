import { randomUUID } from 'node:crypto';
import { CdnPurge, InvalidationBatch, InvalidationSink, Logger, childLogger, counter, errorMessage, isRetriable, nowMs, withRetry } from '@cdc/core';
import { pipelineMetrics } from '@cdc/pipeline';
import { InvalidateBody } from './admin-bodies';

const adminInvalidations = counter('cdc_admin_invalidations_total', 'Manual invalidations through POST /admin/invalidate, by outcome', ['outcome']);

/**
 * A manual invalidation as the pipeline would build it from an explicit message: one
 * synthetic `message` event (position `admin:<uuid>`, commit time now) whose keys, tags and
 * patterns go to the default L1 channels, plus the CDN purges asked for.
 */
export function buildManualBatch(body: InvalidateBody, channels: readonly string[], atMs = nowMs()): InvalidationBatch {
  const keys = body.keys ?? [];
  const tags = body.tags ?? [];
  const patterns = body.patterns ?? [];
  const batch = new InvalidationBatch();
  batch.addEvent({ op: 'message', schema: '', table: '', position: `admin:${randomUUID()}`, commitTimeMs: atMs, explicit: { keys, tags, patterns } });
  batch.addMatch({ rule: 'admin', keys, tags, patterns, channels: keys.length + tags.length + patterns.length > 0 ? channels : [], cdn: cdnPurges(body), missing: [] });
  return batch;
}

function cdnPurges(body: InvalidateBody): CdnPurge[] {
  const out: CdnPurge[] = [];
  const cf = body.urls?.cloudflare;
  if (cf) {
    for (const value of cf.files ?? []) out.push({ provider: 'cloudflare', target: cf.zone, kind: 'files', value });
    for (const value of cf.tags ?? []) out.push({ provider: 'cloudflare', target: cf.zone, kind: 'tags', value });
    for (const value of cf.prefixes ?? []) out.push({ provider: 'cloudflare', target: cf.zone, kind: 'prefixes', value });
  }
  const cfr = body.urls?.cloudfront;
  if (cfr) for (const value of cfr.paths) out.push({ provider: 'cloudfront', target: cfr.distribution, kind: 'paths', value });
  return out;
}

export interface ManualApplyOptions {
  /** Attempts per sink for retriable errors (an operator is waiting; the pipeline itself retries forever). Default 4. */
  readonly maxAttempts?: number;
  /** Start (connect) each sink first: a standby replica's pipeline has not. Idempotent. */
  readonly startSinks?: boolean;
  readonly signal?: AbortSignal;
}

export interface ManualApplyResult {
  readonly position: string;
  readonly keys: number;
  readonly tags: number;
  readonly patterns: number;
  readonly cdn: number;
  readonly channels: readonly string[];
  /** Sinks that applied the batch, in order. */
  readonly sinks: readonly string[];
}

/** A sink failed; `applied` lists the sinks (in order) that had already done their part. */
export class ManualApplyError extends Error {
  constructor(
    readonly sink: string,
    readonly retriable: boolean,
    readonly applied: readonly string[],
    cause: unknown,
  ) {
    super(`${sink}: ${errorMessage(cause)}`, { cause });
  }
}

/**
 * Applies a batch through the pipeline's sinks in the pipeline's order (Redis L2, then L1
 * pub/sub, then the CDN outbox) and counts it in the same action metrics. Stops at the first
 * sink that fails, so L1 never hears of an eviction L2 has not done.
 */
export async function applyManualBatch(batch: InvalidationBatch, sinks: readonly InvalidationSink[], options: ManualApplyOptions = {}): Promise<ManualApplyResult> {
  const log: Logger = childLogger('admin');
  const applied: string[] = [];
  for (const sink of sinks) {
    try {
      await withRetry(async () => {
        if (options.startSinks) await sink.start();
        await sink.apply(batch);
      }, {
        maxAttempts: options.maxAttempts ?? 4,
        initialDelayMs: 50,
        maxDelayMs: 1_000,
        signal: options.signal,
        onRetry: (err, attempt) => {
          pipelineMetrics.sinkRetries.inc({ sink: sink.name });
          log.warn({ sink: sink.name, attempt, err: errorMessage(err) }, 'manual invalidation: sink unavailable, retrying');
        },
      });
    } catch (err) {
      const retriable = isRetriable(err);
      pipelineMetrics.errors.inc({ stage: sink.name, retriable: String(retriable) });
      adminInvalidations.inc({ outcome: 'failed' });
      log.error({ sink: sink.name, err: errorMessage(err), position: batch.lastPosition, applied }, 'manual invalidation failed');
      throw new ManualApplyError(sink.name, retriable, applied, err);
    }
    applied.push(sink.name);
  }
  pipelineMetrics.actions.inc({ kind: 'key' }, batch.keys.size);
  pipelineMetrics.actions.inc({ kind: 'tag' }, batch.tags.size);
  pipelineMetrics.actions.inc({ kind: 'pattern' }, batch.patterns.size);
  pipelineMetrics.actions.inc({ kind: 'cdn' }, batch.cdnCount);
  adminInvalidations.inc({ outcome: 'applied' });
  const result = {
    position: batch.lastPosition,
    keys: batch.keys.size,
    tags: batch.tags.size,
    patterns: batch.patterns.size,
    cdn: batch.cdnCount,
    channels: [...batch.channels.keys()],
    sinks: applied,
  };
  log.info(result, 'manual invalidation applied');
  return result;
}
