import { Cluster } from 'ioredis';
import { ConfigError, Logger } from '@cdc/core';
import { CdnConfig } from './cdn-config';
import { CloudflarePurger } from './cloudflare-purger';
import { CloudFrontPurger } from './cloudfront-purger';
import { CdnOutboxSink } from './outbox-sink';
import { OutboxRedis, OutboxStore } from './outbox-store';
import { PurgeWorker } from './purge-worker';
import { Purger } from './purger';

export interface CdnComponents {
  readonly outboxSink: CdnOutboxSink;
  readonly purgeWorker: PurgeWorker;
}

/**
 * Wires the outbox sink and the purge worker over one Redis client. The worker's blocking
 * reads get their own connection (`redis.duplicate()`), closed by `purgeWorker.stop()`;
 * `redis` itself stays the caller's. Nothing connects or starts here: call
 * `outboxSink.start()` and `purgeWorker.start()` from lifecycle hooks.
 */
export function createCdnComponents(opts: { config: CdnConfig; redis: OutboxRedis; logger: Logger; env?: Readonly<Record<string, string | undefined>> }): CdnComponents {
  const { config, redis, logger } = opts;
  if ((redis as Cluster).isCluster) checkClusterNames(config);
  const sinkStore = new OutboxStore(redis, config.outbox);
  const workerStore = new OutboxStore(redis, config.outbox, redis.duplicate());
  const purgers: Purger[] = [];
  if (config.cloudflare) purgers.push(new CloudflarePurger(config.cloudflare));
  if (config.cloudfront) purgers.push(new CloudFrontPurger(config.cloudfront, opts.env));
  // `role`, not a second `component`: the caller's logger already names the component, and
  // pino writes a repeated binding twice into the same JSON line.
  return {
    outboxSink: new CdnOutboxSink(sinkStore, config.outbox, logger.child({ role: 'outbox' })),
    purgeWorker: new PurgeWorker(workerStore, purgers, config.worker, logger.child({ role: 'purge-worker' })),
  };
}

/** The outbox writes both streams in one MULTI: in a Cluster they must share a hash slot. */
function checkClusterNames(config: CdnConfig): void {
  const tag = (key: string): string | undefined => /\{([^}]+)\}/.exec(key)?.[1];
  const { stream, deadLetterStream, waitReplicas } = config.outbox;
  const problems: string[] = [];
  if (tag(stream) === undefined || tag(stream) !== tag(deadLetterStream)) {
    problems.push(`CDN_OUTBOX_STREAM ("${stream}") and CDN_DEAD_LETTER_STREAM ("${deadLetterStream}") must share a {hash tag} in Redis Cluster`);
  }
  if (waitReplicas > 0) problems.push('CDN_OUTBOX_WAIT_REPLICAS: not supported with Redis Cluster (WAIT is per node)');
  if (problems.length > 0) throw new ConfigError(`invalid CDN configuration:\n  ${problems.join('\n  ')}`, 'CDN_CONFIG');
}
