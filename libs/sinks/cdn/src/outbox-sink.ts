import { InvalidationBatch, InvalidationSink, Logger, TransientError, errorMessage, nowMs } from '@cdc/core';
import { OutboxConfig } from './cdn-config';
import { cdnMetrics } from './cdn-metrics';
import { encodeBatch, fieldMap } from './outbox-entry';
import { OutboxStore } from './outbox-store';

/**
 * The CDN sink of the pipeline. apply() resolves once the batch's purges are appended to
 * the Redis Stream outbox (and, when configured, acknowledged by replicas): "durably
 * queued", so the source may confirm the position. The PurgeWorker does the provider calls.
 */
export class CdnOutboxSink implements InvalidationSink {
  readonly name = 'cdn-outbox';

  constructor(
    private readonly store: OutboxStore,
    private readonly config: Pick<OutboxConfig, 'maxPurgesPerEntry' | 'waitReplicas' | 'waitTimeoutMs'>,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    try {
      await this.store.ensureGroup();
    } catch (err) {
      throw new TransientError(`cdn outbox: cannot create consumer group: ${errorMessage(err)}`, undefined, 'CDN_OUTBOX');
    }
  }

  async apply(batch: InvalidationBatch): Promise<void> {
    if (batch.cdnCount === 0) return;
    const entries = encodeBatch(batch, this.config.maxPurgesPerEntry, nowMs());
    let replicas: number | undefined;
    try {
      ({ replicas } = await this.store.append(entries, this.config.waitReplicas, this.config.waitTimeoutMs));
    } catch (err) {
      throw new TransientError(`cdn outbox: append failed: ${errorMessage(err)}`, undefined, 'CDN_OUTBOX');
    }
    if (this.config.waitReplicas > 0 && (replicas ?? 0) < this.config.waitReplicas) {
      // Written on the primary but not yet on enough replicas: retrying re-appends (duplicate
      // purges are harmless) rather than confirming a position a failover could lose.
      throw new TransientError(`cdn outbox: ${replicas ?? 0} of ${this.config.waitReplicas} replicas acknowledged within ${this.config.waitTimeoutMs} ms`, undefined, 'CDN_OUTBOX_REPLICAS');
    }
    for (const fields of entries) cdnMetrics.appended.inc({ provider: fieldMap(fields).get('provider') ?? 'unknown' });
    this.logger.debug({ entries: entries.length, purges: batch.cdnCount, position: batch.lastPosition }, 'cdn purges queued');
  }

  async stop(): Promise<void> {
    // The Redis connection belongs to the caller.
  }
}
