export {
  CDN_CONFIG,
  CdnAlias,
  CdnConfig,
  CloudFrontConfig,
  CloudFrontDistributionConfig,
  CloudflareConfig,
  CloudflareZoneConfig,
  OutboxConfig,
  PurgeWorkerConfig,
  cdnConfigFromEnv,
  checkAliases,
} from './cdn-config';
export { CdnComponents, createCdnComponents } from './create-cdn-components';
export { CdnOutboxSink } from './outbox-sink';
export { PurgeWorker, PurgeWorkerStatus } from './purge-worker';
export { CdnDeadLetter, ListDeadLettersOptions, RedriveResult, listCdnDeadLetters, redriveCdnDeadLetters } from './dead-letters';
export { OutboxStore } from './outbox-store';
export { cdnMetrics } from './cdn-metrics';
