import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseL1Message } from './l1-message-v2';

const invalidate = { v: 2, type: 'invalidate', stream: 's', seq: 1, id: 'i', source: 'postgres', channel: 'c', position: '0/1', commitTime: null, publishedAt: '', part: 1, parts: 1, keys: ['k'], tags: [], patterns: [] };

describe('parseL1Message (the one subscriber-side validator)', () => {
  it('accepts v1, v2 invalidate and v2 heartbeat messages', () => {
    assert.equal(parseL1Message(JSON.stringify(invalidate)).kind, 'v2');
    assert.equal(parseL1Message(Buffer.from(JSON.stringify({ v: 2, type: 'heartbeat', stream: 's', seq: 0, channel: 'c', publishedAt: '' }))).kind, 'v2');
    assert.equal(parseL1Message(JSON.stringify({ ...invalidate, v: 1, type: undefined, stream: undefined, seq: undefined })).kind, 'v1');
  });

  it('reports unknown versions and malformed messages instead of throwing', () => {
    assert.deepEqual(parseL1Message('{"v":3}'), { kind: 'unknown-version', v: 3 });
    const bad = ['', 'nope', 'null', '[]', '{"v":2}', JSON.stringify({ ...invalidate, seq: 0 }), JSON.stringify({ ...invalidate, seq: 1.5 }), JSON.stringify({ ...invalidate, keys: 'k' }), JSON.stringify({ ...invalidate, tags: [1] }), JSON.stringify({ ...invalidate, type: 'other' }), JSON.stringify({ v: 2, type: 'heartbeat', stream: 's', seq: -1 }), JSON.stringify({ ...invalidate, stream: '' })];
    for (const raw of bad) assert.equal(parseL1Message(raw).kind, 'invalid', raw);
  });
});
