import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEFAULT_EXPLICIT_POLICY } from '@cdc/core';
import { parseExplicitMessage } from './explicit-message';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('parseExplicitMessage', () => {
  it('reads keys, tags and patterns, each optional', () => {
    const withPatterns = { ...DEFAULT_EXPLICIT_POLICY, allow: new Set(['keys', 'tags', 'patterns'] as const) };
    assert.deepEqual(parseExplicitMessage(bytes('{"keys":["a","b"],"patterns":["pat:*"]}'), withPatterns), {
      ok: true,
      explicit: { keys: ['a', 'b'], tags: [], patterns: ['pat:*'] },
    });
    assert.deepEqual(parseExplicitMessage(bytes('{"tags":["t"]}')), { ok: true, explicit: { keys: [], tags: ['t'], patterns: [] } });
  });

  it('refuses patterns under the default policy, with the reason', () => {
    const r = parseExplicitMessage(bytes('{"patterns":["*"]}'));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /may not carry patterns \(EXPLICIT_INVALIDATION_KINDS allows keys, tags\)/);
  });

  it('explains what is wrong with a malformed message', () => {
    const cases: Array<[string | Uint8Array, RegExp]> = [
      ['not json', /not JSON/],
      ['[1]', /\(root\)/],
      ['{"keys":[1]}', /keys\.0/],
      ['{"key":["typo"]}', /Unrecognized key.*key/],
      ['{"tags":[""]}', /tags\.0/],
      [new Uint8Array([0xff, 0xfe]), /not valid UTF-8/],
    ];
    for (const [input, reason] of cases) {
      const r = parseExplicitMessage(typeof input === 'string' ? bytes(input) : input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    }
  });
});
