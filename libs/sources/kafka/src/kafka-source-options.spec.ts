import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '@cdc/core';
import { kafkaSourceOptionsFromEnv } from './kafka-source-options';

describe('kafkaSourceOptionsFromEnv', () => {
  it('reads a full configuration', () => {
    const o = kafkaSourceOptionsFromEnv({
      KAFKA_BROKERS: 'k1:9092, k2:9093',
      KAFKA_GROUP_ID: 'inv',
      KAFKA_TOPICS: 'shop.public.products,shop.public.orders',
      KAFKA_TOPIC_PREFIX: 'shop',
      KAFKA_TABLE_MAP: 'legacy-products=public.products',
      KAFKA_DLQ_TOPIC: 'inv-dlq',
      KAFKA_FLATTENED: 'true',
      KAFKA_UNAVAILABLE_VALUE: '<toast>',
      KAFKA_MAX_BUFFERED_EVENTS: '500',
      KAFKA_TOPIC_REFRESH_MS: '2500',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 's3cret',
    });
    assert.deepEqual(o.brokers, ['k1:9092', 'k2:9093']);
    assert.equal(o.groupId, 'inv');
    assert.deepEqual(o.topics, ['shop.public.products', 'shop.public.orders']);
    assert.equal(o.topicPrefix, 'shop');
    assert.deepEqual(o.tableMap, { 'legacy-products': 'public.products' });
    assert.equal(o.dlqTopic, 'inv-dlq');
    assert.equal(o.flattened, true);
    assert.equal(o.unavailableValue, '<toast>');
    assert.equal(o.maxBufferedEvents, 500);
    assert.equal(o.topicRefreshMs, 2500);
    assert.equal(o.ssl, true);
    assert.deepEqual(o.sasl, { mechanism: 'scram-sha-512', username: 'svc', password: 's3cret' });
  });

  it('has defaults and accepts a topic pattern and a JSON table map', () => {
    const o = kafkaSourceOptionsFromEnv({ KAFKA_BROKERS: 'localhost:9092', KAFKA_TOPIC_PATTERN: '^shop\\.public\\..*', KAFKA_TABLE_MAP: '{"a":"s.t"}' });
    assert.equal(o.groupId, 'cdc-invalidator');
    assert.equal(o.dlqTopic, 'cdc-invalidator.dlq');
    assert.ok(o.topicPattern!.test('shop.public.x'));
    assert.deepEqual(o.tableMap, { a: 's.t' });
    assert.equal(o.flattened, false);
    assert.equal(o.maxBufferedEvents, 10_000);
    assert.equal(o.sasl, undefined);
  });

  it('names every bad variable at once and never echoes the password', () => {
    try {
      kafkaSourceOptionsFromEnv({
        KAFKA_BROKERS: 'no-port',
        KAFKA_TOPIC_PATTERN: '([',
        KAFKA_FLATTENED: 'maybe',
        KAFKA_MAX_BUFFERED_EVENTS: '0',
        KAFKA_TABLE_MAP: 'x=nodot',
        KAFKA_SASL_MECHANISM: 'gssapi',
        KAFKA_SASL_PASSWORD: 'hunter2',
      });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const msg = (err as Error).message;
      for (const name of ['KAFKA_BROKERS', 'KAFKA_TOPIC_PATTERN', 'KAFKA_FLATTENED', 'KAFKA_MAX_BUFFERED_EVENTS', 'KAFKA_TABLE_MAP', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME']) {
        assert.match(msg, new RegExp(name), `${name} should be named in:\n${msg}`);
      }
      assert.doesNotMatch(msg, /hunter2/);
    }
  });

  it('requires brokers and topics', () => {
    assert.throws(() => kafkaSourceOptionsFromEnv({}), (err: Error) => /KAFKA_BROKERS: required/.test(err.message) && /KAFKA_TOPICS or KAFKA_TOPIC_PATTERN/.test(err.message));
    assert.throws(() => kafkaSourceOptionsFromEnv({ KAFKA_BROKERS: 'a:1', KAFKA_TOPICS: 't', KAFKA_TOPIC_PATTERN: 't' }), /not both/);
  });
});
