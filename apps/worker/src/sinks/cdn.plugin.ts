import { cdnConfigFromEnv, createCdnComponents } from '@cdc/sink-cdn';
import { childLogger } from '@cdc/core';
import { SinkPlugin } from '../pipeline/plugins';

/** The CDN purge outbox, enabled when the rules name any CDN target. The purge worker runs beside it. */
export const cdnOutboxSinkPlugin: SinkPlugin = {
  name: 'cdn-outbox',
  enabled: ({ rules }) => {
    const a = rules().cdnAliases;
    return a.cloudflare.length + a.cloudfront.length > 0;
  },
  validateEnv(env) {
    cdnConfigFromEnv(env);
  },
  async create(ctx) {
    const config = cdnConfigFromEnv(ctx.env);
    const { outboxSink, purgeWorker } = createCdnComponents({ config, redis: ctx.redis, logger: childLogger('cdn') });
    return {
      sink: outboxSink,
      background() {
        void purgeWorker.start();
        return () => purgeWorker.stop();
      },
    };
  },
};
