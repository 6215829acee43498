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
    const sink = new L1PubSubSink({
      client: ctx.redis,
      source: ctx.worker.SOURCE,
      messageVersion: ctx.worker.L1_MESSAGE_VERSION,
      heartbeatIntervalMs: ctx.worker.L1_HEARTBEAT_INTERVAL_MS,
      // Read on every heartbeat round, so a rules reload that adds a channel beats on it at once.
      channels: () => ctx.rules().staticChannels,
      channelLabel: l1ChannelLabel(ctx.rules),
    });
    return { sink };
  },
};
