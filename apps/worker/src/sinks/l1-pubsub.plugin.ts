import { L1PubSubSink } from '@cdc/sink-redis';
import { SinkPlugin } from '../pipeline/plugins';

export const l1PubSubSinkPlugin: SinkPlugin = {
  name: 'l1-pubsub',
  enabled: ({ worker }) => worker.L1_ENABLED,
  validateEnv() {},
  async create(ctx) {
    return { sink: new L1PubSubSink({ client: ctx.redis, source: ctx.worker.SOURCE }) };
  },
};
