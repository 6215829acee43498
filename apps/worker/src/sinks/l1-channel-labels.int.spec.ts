import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { InvalidationBatch, metricsRegistry } from '@cdc/core';
import { compileRules } from '@cdc/rules';
import { L1PubSubSink, RedisClient, createRedisClient, redisConfigFromEnv } from '@cdc/sink-redis';
import { RedisServer } from '@cdc/testing';
import { l1ChannelLabel } from './l1-pubsub.plugin';

const RULES = `version: 1
defaults:
  channels: ["cache-invalidation"]
rules:
  - name: per-user
    table: public.users
    invalidate:
      keys: ["user:{id}"]
      channels: ["user:{email}", "users"]
  - name: products
    table: public.products
    invalidate:
      keys: ["product:{id}"]
`;

describe('L1 metric labels never carry row values (issue 8 part 5)', () => {
  let server: RedisServer;
  let client: RedisClient;

  before(async () => {
    server = await RedisServer.start();
    client = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
  });

  after(async () => {
    client.disconnect();
    await server.destroy();
  });

  it('300 row-derived channels give a bounded set of series, labelled by static names and `dynamic`', async () => {
    const rules = compileRules(RULES, 'labels.yaml');
    const batch = new InvalidationBatch();
    for (let i = 0; i < 300; i++) {
      const event = { op: 'insert' as const, schema: 'public', table: 'users', after: { id: i, email: `person${i}@example.com` }, commitTimeMs: 1, position: String(i) };
      batch.addEvent(event);
      for (const match of rules.evaluate(event)) batch.addMatch(match);
    }
    const productEvent = { op: 'insert' as const, schema: 'public', table: 'products', after: { id: 1 }, commitTimeMs: 1, position: '301' };
    batch.addEvent(productEvent);
    for (const match of rules.evaluate(productEvent)) batch.addMatch(match);
    assert.equal(batch.channels.size, 302, '300 per-user channels, users, and the default channel');

    const sink = new L1PubSubSink({ client, source: 'postgres', channelLabel: l1ChannelLabel(() => rules) });
    await sink.start();
    await sink.apply(batch);

    const { values } = await metricsRegistry.getSingleMetric('cdc_l1_messages_published_total')!.get();
    const labels = values.map((v) => String(v.labels.channel)).sort();
    // Before the fix: 302 series, 300 of them naming an e-mail address.
    assert.deepEqual(labels, ['cache-invalidation', 'dynamic', 'users']);
    assert.equal(values.find((v) => v.labels.channel === 'dynamic')!.value, 300);
    const exposition = await metricsRegistry.metrics();
    assert.ok(!exposition.includes('@example.com'), 'no row value on /metrics');
  });
});
