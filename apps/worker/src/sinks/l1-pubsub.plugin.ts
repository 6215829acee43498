import { ConfigOf, defineConfig, field } from '@cdc/core';
import { CompiledRules } from '@cdc/rules';
import { L1PubSubSink } from '@cdc/sink-redis';
import { SinkPlugin } from '../pipeline/plugins';

/** Metric label of an L1 channel: its name when the rules file writes it as static text, else `dynamic` (rows never reach /metrics). */
export function l1ChannelLabel(rules: () => CompiledRules): (channel: string) => string {
  return (channel) => (rules().staticChannels.has(channel) ? channel : 'dynamic');
}

const L1_CONFIG = defineConfig(
  'L1 pub/sub',
  {
    enabled: field.boolean({ name: 'L1_ENABLED', description: 'publish L1 messages after the L2 deletes', default: true }),
    messageVersion: field.oneOf(['1', '2'], {
      name: 'L1_MESSAGE_VERSION',
      description: 'L1 message version: `2` adds stream/seq and heartbeats (the client library needs it); `1` while version-1 subscribers are migrated ([docs/pubsub.md](docs/pubsub.md))',
      default: '2',
    }),
    heartbeatIntervalMs: field.integer({
      name: 'L1_HEARTBEAT_INTERVAL_MS',
      description: 'version 2: heartbeat on every L1 channel idle this long; `0` turns heartbeats off',
      default: 1000,
      min: 0,
      max: 3_600_000,
    }),
  },
  (v) => ({ ...v, messageVersion: (v.messageVersion === '1' ? 1 : 2) as 1 | 2 }),
);

export const l1PubSubSinkPlugin: SinkPlugin<ConfigOf<typeof L1_CONFIG>> = {
  name: 'l1-pubsub',
  config: L1_CONFIG,
  enabled: (config) => config.enabled,
  async create(config, ctx) {
    const sink = new L1PubSubSink({
      client: ctx.redis,
      source: ctx.sourceName,
      messageVersion: config.messageVersion,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      // Read on every heartbeat round, so a rules reload that adds a channel beats on it at once.
      channels: () => ctx.rules().staticChannels,
      channelLabel: l1ChannelLabel(ctx.rules),
    });
    return { sink };
  },
};
