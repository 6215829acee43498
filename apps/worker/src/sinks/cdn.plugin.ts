import { CdnProvider, ConfigOf, childLogger, errorMessage, extendConfig, field } from '@cdc/core';
import { CompiledRules } from '@cdc/rules';
import { CDN_CONFIG, checkAliases, createCdnComponents } from '@cdc/sink-cdn';
import { SinkPlugin } from '../pipeline/plugins';

const log = childLogger('cdn');

/** The zone/distribution aliases the rules name, in the shape the CDN config checks. */
export function ruleCdnAliases(rules: CompiledRules): Array<{ provider: CdnProvider; target: string }> {
  return [
    ...rules.cdnAliases.cloudflare.map((target) => ({ provider: 'cloudflare' as const, target })),
    ...rules.cdnAliases.cloudfront.map((target) => ({ provider: 'cloudfront' as const, target })),
  ];
}

const CDN_PLUGIN_CONFIG = extendConfig(
  CDN_CONFIG,
  {
    runPurgeWorker: field.boolean({
      name: 'CDN_PURGE_WORKER',
      description: 'run the purge worker that drains the outbox in this process; `false` to run it elsewhere',
      default: true,
    }),
  },
  (cdn, own) => ({ cdn, ...own }),
);

/**
 * The CDN purge outbox, enabled when the rules name any CDN target. The purge worker that
 * drains it runs in the same process unless CDN_PURGE_WORKER=false (then run it elsewhere).
 */
export const cdnOutboxSinkPlugin: SinkPlugin<ConfigOf<typeof CDN_PLUGIN_CONFIG>> = {
  name: 'cdn-outbox',
  config: CDN_PLUGIN_CONFIG,
  wanted: (rules) => ruleCdnAliases(rules).length > 0,
  check: (config, rules) => checkAliases(ruleCdnAliases(rules), config.cdn),
  bootFacts: ({ cdn }) => ({
    cdnAliases: { cloudflare: new Set(cdn.cloudflare?.zones.keys() ?? []), cloudfront: new Set(cdn.cloudfront?.distributions.keys() ?? []) },
  }),
  async create(config, ctx) {
    const { outboxSink, purgeWorker } = createCdnComponents({ config: config.cdn, redis: ctx.redis, logger: log });
    return {
      sink: outboxSink,
      background() {
        if (!config.runPurgeWorker) return () => undefined;
        purgeWorker.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'purge worker failed to start; purges stay queued in the outbox'));
        return () => purgeWorker.stop();
      },
    };
  },
};
