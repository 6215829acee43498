import { CdnProvider, ConfigError, childLogger, errorMessage } from '@cdc/core';
import { CompiledRules } from '@cdc/rules';
import { cdnConfigFromEnv, checkAliases, createCdnComponents } from '@cdc/sink-cdn';
import { SinkPlugin } from '../pipeline/plugins';

const log = childLogger('cdn');

/** The zone/distribution aliases the rules name, in the shape the CDN config checks. */
export function ruleCdnAliases(rules: CompiledRules): Array<{ provider: CdnProvider; target: string }> {
  return [
    ...rules.cdnAliases.cloudflare.map((target) => ({ provider: 'cloudflare' as const, target })),
    ...rules.cdnAliases.cloudfront.map((target) => ({ provider: 'cloudfront' as const, target })),
  ];
}

/**
 * The CDN purge outbox, enabled when the rules name any CDN target. The purge worker that
 * drains it runs in the same process unless CDN_PURGE_WORKER=false (then run it elsewhere).
 */
export const cdnOutboxSinkPlugin: SinkPlugin = {
  name: 'cdn-outbox',
  enabled: ({ rules }) => ruleCdnAliases(rules()).length > 0,
  validateEnv(env, rules) {
    const config = cdnConfigFromEnv(env);
    if (!rules) return;
    const problems = checkAliases(ruleCdnAliases(rules), config);
    if (problems.length) throw new ConfigError(problems.join('\n'));
  },
  async create(ctx) {
    const config = cdnConfigFromEnv(ctx.env);
    const { outboxSink, purgeWorker } = createCdnComponents({ config, redis: ctx.redis, logger: log });
    const runWorker = !/^(false|0|no|off)$/i.test(ctx.env.CDN_PURGE_WORKER ?? 'true');
    return {
      sink: outboxSink,
      background() {
        if (!runWorker) return () => undefined;
        purgeWorker.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'purge worker failed to start; purges stay queued in the outbox'));
        return () => purgeWorker.stop();
      },
    };
  },
};
