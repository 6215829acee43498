import { CompiledRules } from '@cdc/rules';
import { L1PubSubSink } from '@cdc/sink-redis';
import { SinkPlugin } from '../pipeline/plugins';

/** Metric label of an L1 channel: its name when the rules file writes it as static text, else `dynamic` (rows never reach /metrics). */
export function l1ChannelLabel(rules: () => CompiledRules): (channel: string) => string {
  return (channel) => (rules().staticChannels.has(channel) ? channel : 'dynamic');
}

export const l1PubSubSinkPlugin: SinkPlugin = {
  name: 'l1-pubsub',
  enabled: ({ worker }) => worker.L1_ENABLED,
  validateEnv() {},
  async create(ctx) {
    return { sink: new L1PubSubSink({ client: ctx.redis, source: ctx.worker.SOURCE, channelLabel: l1ChannelLabel(ctx.rules) }) };
  },
};
