import { randomUUID } from 'node:crypto';
import { CdnPurge, DeadLetterSink, InvalidationBatch, InvalidationSink, Logger, childLogger, counter, errorMessage, isRetriable, nowMs } from '@cdc/core';
import { BatchApplier, DeadLetterStoreError, SinkUnavailableError, pipelineMetrics } from '@cdc/pipeline';
import { InvalidateBody } from './admin-bodies';

const adminInvalidations = counter('cdc_admin_invalidations_total', 'Manual invalidations through POST /admin/invalidate, by outcome', ['outcome']);

/**
 * A manual invalidation as the pipeline would build it from an explicit message: one
 * synthetic `message` event (position `admin:<uuid>`, commit time now) whose keys, tags and
 * patterns go to the default L1 channels, plus the CDN purges asked for. With `patternKeys`
 * (the keys the patterns matched, found with a capped SCAN) the patterns are replaced by
 * those keys, so L2 and L1 evict exactly them and never more than the cap.
 */
export function buildManualBatch(body: InvalidateBody, channels: readonly string[], atMs = nowMs(), patternKeys?: readonly string[]): InvalidationBatch {
  const keys = patternKeys ? [...new Set([...(body.keys ?? []), ...patternKeys])] : (body.keys ?? []);
  const tags = body.tags ?? [];
  const patterns = patternKeys ? [] : (body.patterns ?? []);
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
  /** Where rejected actions go (the Redis stream `cdc:dead-letter`). */
  readonly deadLetters?: DeadLetterSink;
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
  /** Actions (or a whole sink's part) rejected for good, each dead-lettered with its reason. */
  readonly rejected: ReadonlyArray<{ readonly sink: string; readonly reason: string; readonly deadLetter: unknown }>;
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
 * Applies a batch through the pipeline's sinks with the pipeline's BatchApplier (Redis L2,
 * then L1 pub/sub, then the CDN outbox; rejected actions dead-lettered) and counts it in the
 * same action metrics. A sink that stays unavailable stops the request there, so L1 never
 * hears of an eviction L2 has not done.
 */
export async function applyManualBatch(batch: InvalidationBatch, sinks: readonly InvalidationSink[], options: ManualApplyOptions = {}): Promise<ManualApplyResult> {
  const log: Logger = childLogger('admin');
  const applier = new BatchApplier({
    sinks,
    deadLetters: options.deadLetters,
    sourceName: 'admin',
    maxAttempts: options.maxAttempts ?? 4,
    initialDelayMs: 50,
    maxDelayMs: 1_000,
    signal: options.signal,
    startSinks: options.startSinks,
    logName: 'admin',
  });
  let outcome;
  try {
    outcome = await applier.apply(batch);
  } catch (err) {
    const sink = err instanceof SinkUnavailableError ? err.sink : 'dead-letters';
    const applied = err instanceof SinkUnavailableError || err instanceof DeadLetterStoreError ? err.applied : [];
    const cause = err instanceof SinkUnavailableError || err instanceof DeadLetterStoreError ? err.cause : err;
    const retriable = isRetriable(err);
    adminInvalidations.inc({ outcome: 'failed' });
    log.error({ sink, err: errorMessage(cause), position: batch.lastPosition, applied }, 'manual invalidation failed');
    throw new ManualApplyError(sink, retriable, applied, cause);
  }
  if (outcome.status !== 'applied') {
    adminInvalidations.inc({ outcome: 'failed' });
    throw new ManualApplyError('admin', true, [], new Error('aborted'));
  }
  pipelineMetrics.actions.inc({ kind: 'key' }, batch.keys.size);
  pipelineMetrics.actions.inc({ kind: 'tag' }, batch.tags.size);
  pipelineMetrics.actions.inc({ kind: 'pattern' }, batch.patterns.size);
  pipelineMetrics.actions.inc({ kind: 'cdn' }, batch.cdnCount);
  adminInvalidations.inc({ outcome: outcome.deadLetters.length > 0 ? 'partly-rejected' : 'applied' });
  const result: ManualApplyResult = {
    position: batch.lastPosition,
    keys: batch.keys.size,
    tags: batch.tags.size,
    patterns: batch.patterns.size,
    cdn: batch.cdnCount,
    channels: [...batch.channels.keys()],
    sinks: outcome.sinks,
    rejected: outcome.deadLetters.map((l) => ({ sink: (l.payload as { sink?: string }).sink ?? '', reason: l.reason, deadLetter: l.payload })),
  };
  log.info({ ...result, rejected: result.rejected.length }, 'manual invalidation applied');
  return result;
}
