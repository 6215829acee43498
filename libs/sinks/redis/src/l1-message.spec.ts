import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import Redis from 'ioredis';
import { InvalidationBatch } from '@cdc/core';
import { L1InvalidationMessage, buildL1Heartbeat, buildL1Messages, parseL1Message, sequenced } from '@cdc/protocol';
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

  it('version 2: an invalidation carries stream and seq, a heartbeat only the last seq; both valid, v1 still valid', () => {
    const stream = 'f5d0b9a2-0000-4000-8000-000000000002';
    const [body] = buildL1Messages({ keys: ['a'], tags: ['t'], patterns: [] }, ctx, 10);
    const v2 = sequenced(body, stream, 7);
    assert.deepEqual(Object.keys(v2).slice(0, 4), ['v', 'type', 'stream', 'seq']);
    assert.deepEqual({ ...v2 }, { ...body, v: 2, type: 'invalidate', stream, seq: 7 });
    const beat = buildL1Heartbeat(stream, 'cache:products', 7, ctx.publishedAtMs);
    assert.deepEqual(beat, { v: 2, type: 'heartbeat', stream, seq: 7, channel: 'cache:products', publishedAt: '2024-05-01T12:00:00.125Z' });
    for (const m of [body, v2, beat, buildL1Heartbeat(stream, 'c', 0, ctx.publishedAtMs)]) {
      const wire = JSON.parse(JSON.stringify(m));
      assert.ok(validate(wire), JSON.stringify(validate.errors));
      // What the client library's subscriber makes of it (the one parser subscribers use).
      assert.deepEqual(parseL1Message(JSON.stringify(m)), { kind: m.v === 1 ? 'v1' : 'v2', message: wire });
    }
  });

  it('the schema rejects broken v2 messages; the subscribers\' parser rejects those it acts on', () => {
    const stream = 'f5d0b9a2-0000-4000-8000-000000000002';
    const [body] = buildL1Messages({ keys: ['a'], tags: [], patterns: [] }, ctx, 10);
    const v2 = JSON.parse(JSON.stringify(sequenced(body, stream, 1))) as Record<string, unknown>;
    const beat = JSON.parse(JSON.stringify(buildL1Heartbeat(stream, 'c', 3, ctx.publishedAtMs))) as Record<string, unknown>;
    const { seq: _s, ...noSeq } = v2;
    const { stream: _st, ...beatNoStream } = beat;
    // Broken in what a subscriber relies on: both the schema and parseL1Message refuse them.
    const unusable: Record<string, unknown> = {
      'invalidate without seq': noSeq,
      'invalidate seq 0': { ...v2, seq: 0 },
      'fractional seq': { ...v2, seq: 1.5 },
      'empty stream': { ...v2, stream: '' },
      'unknown type': { ...v2, type: 'flush' },
      'heartbeat without stream': beatNoStream,
      'heartbeat negative seq': { ...beat, seq: -1 },
      'v2 keys not strings': { ...v2, keys: [1] },
      'not an object': [v2],
    };
    // Broken only in tracing fields or shape: the schema (the contract) refuses them.
    const offContract: Record<string, unknown> = {
      'v1 with a seq': { ...body, seq: 1 },
      'heartbeat with keys': { ...beat, keys: [] },
      'heartbeat bad date': { ...beat, publishedAt: 'now' },
      'v2 part 0': { ...v2, part: 0 },
      'v2 commitTime not a date': { ...v2, commitTime: 'soon' },
    };
    for (const [name, m] of Object.entries({ ...unusable, ...offContract })) assert.equal(validate(m), false, `schema accepts ${name}`);
    for (const [name, m] of Object.entries(unusable)) {
      assert.equal(parseL1Message(JSON.stringify(m)).kind, 'invalid', `parseL1Message accepts ${name}`);
    }
    assert.equal(validate({ ...v2, v: 3 }), false, 'a later version is not this schema');
    assert.equal(parseL1Message(JSON.stringify({ ...v2, v: 3 })).kind, 'unknown-version');
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
