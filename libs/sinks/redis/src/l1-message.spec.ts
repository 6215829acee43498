import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import Redis from 'ioredis';
import { InvalidationBatch } from '@cdc/core';
import { L1InvalidationMessage, buildL1Messages } from '@cdc/protocol';
import { L1PubSubSink } from './l1-pubsub-sink';
import { l1MessageValidator } from './l1-schema.test-helper';

const ctx = {
  id: 'b7c1c4a0-0000-4000-8000-000000000001',
  source: 'postgres',
  channel: 'cache:products',
  position: '0/16B3748',
  commitTimeMs: Date.UTC(2024, 4, 1, 12, 0, 0, 123) + 0.456,
  publishedAtMs: Date.UTC(2024, 4, 1, 12, 0, 0, 125),
};

describe('L1 message building', () => {
  const validate = l1MessageValidator();

  it('builds one schema-valid message for a small payload', () => {
    const messages = buildL1Messages({ keys: ['product:1', 'product:slug:a'], tags: ['product-1'], patterns: ['search:products:*'] }, ctx, 1000);
    assert.equal(messages.length, 1);
    const m = messages[0];
    assert.deepEqual(m, {
      v: 1,
      id: ctx.id,
      source: 'postgres',
      channel: 'cache:products',
      position: '0/16B3748',
      commitTime: '2024-05-01T12:00:00.123Z',
      publishedAt: '2024-05-01T12:00:00.125Z',
      part: 1,
      parts: 1,
      keys: ['product:1', 'product:slug:a'],
      tags: ['product-1'],
      patterns: ['search:products:*'],
    });
    // The wire form (what subscribers parse) is valid against the published schema.
    assert.ok(validate(JSON.parse(JSON.stringify(m))), JSON.stringify(validate.errors));
  });

  it('splits a large payload into bounded parts, in order, sharing the id', () => {
    const keys = Array.from({ length: 5 }, (_, i) => `k${i}`);
    const tags = ['t0', 't1'];
    const patterns = ['p*'];
    const messages = buildL1Messages({ keys, tags, patterns }, ctx, 3);
    assert.deepEqual(
      messages.map((m) => [m.part, m.parts, m.keys, m.tags, m.patterns]),
      [
        [1, 3, ['k0', 'k1', 'k2'], [], []],
        [2, 3, ['k3', 'k4'], ['t0'], []],
        [3, 3, [], ['t1'], ['p*']],
      ],
    );
    for (const m of messages) {
      assert.equal(m.id, ctx.id);
      assert.ok(m.keys.length + m.tags.length + m.patterns.length <= 3);
      assert.ok(validate(JSON.parse(JSON.stringify(m))), JSON.stringify(validate.errors));
    }
  });

  it('splits exactly at the boundary and yields nothing for an empty payload', () => {
    assert.equal(buildL1Messages({ keys: ['a', 'b'], tags: [], patterns: [] }, ctx, 2).length, 1);
    assert.equal(buildL1Messages({ keys: ['a', 'b', 'c'], tags: [], patterns: [] }, ctx, 2).length, 2);
    assert.deepEqual(buildL1Messages({ keys: [], tags: [], patterns: [] }, ctx, 2), []);
    assert.throws(() => buildL1Messages({ keys: ['a'], tags: [], patterns: [] }, ctx, 0), RangeError);
  });

  it('reports an unknown commit time as null, which the schema accepts', () => {
    const [m] = buildL1Messages({ keys: ['a'], tags: [], patterns: [] }, { ...ctx, commitTimeMs: 0 }, 10);
    assert.equal(m.commitTime, null);
    assert.ok(validate(JSON.parse(JSON.stringify(m))), JSON.stringify(validate.errors));
  });

  it('the schema rejects messages that break the contract', () => {
    const [good] = buildL1Messages({ keys: ['a'], tags: [], patterns: [] }, ctx, 10);
    const wire = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    assert.equal(validate({ ...wire, v: 2 }), false, 'unknown version');
    assert.equal(validate({ ...wire, part: 0 }), false, 'parts are 1-based');
    assert.equal(validate({ ...wire, keys: [1] }), false, 'keys are strings');
    assert.equal(validate({ ...wire, publishedAt: 'yesterday' }), false, 'date-time format');
    assert.equal(validate({ ...wire, extra: true }), false, 'no unknown fields');
    const { tags: _t, ...withoutTags } = wire;
    assert.equal(validate(withoutTags), false, 'tags required');
  });

  it('L1PubSubSink builds one message set per channel from a batch', () => {
    const batch = new InvalidationBatch();
    batch.addEvent({ op: 'update', schema: 'public', table: 'products', commitTimeMs: ctx.commitTimeMs, position: '0/AA' });
    batch.addMatch({ rule: 'r1', keys: ['product:1'], tags: ['product-1'], patterns: [], channels: ['cache:a', 'cache:b'], cdn: [], missing: [] });
    batch.addMatch({ rule: 'r2', keys: ['list:1'], tags: [], patterns: ['search:*'], channels: ['cache:b'], cdn: [], missing: [] });
    // messagesFor is pure; the lazy client never connects.
    const client = new Redis({ lazyConnect: true });
    const sink = new L1PubSubSink({ client, source: 'kafka', maxItemsPerMessage: 2 });
    const messages: L1InvalidationMessage[] = sink.messagesFor(batch, ctx.publishedAtMs);
    assert.deepEqual(
      messages.map((m) => [m.channel, m.part, m.parts, m.keys, m.tags, m.patterns]),
      [
        ['cache:a', 1, 1, ['product:1'], ['product-1'], []],
        ['cache:b', 1, 2, ['product:1', 'list:1'], [], []],
        ['cache:b', 2, 2, [], ['product-1'], ['search:*']],
      ],
    );
    assert.notEqual(messages[0].id, messages[1].id, 'each channel invalidation has its own id');
    assert.equal(messages[1].id, messages[2].id, 'parts share the id');
    for (const m of messages) {
      assert.equal(m.source, 'kafka');
      assert.equal(m.position, '0/AA');
      assert.ok(validate(JSON.parse(JSON.stringify(m))), JSON.stringify(validate.errors));
    }
    client.disconnect();
  });
});
