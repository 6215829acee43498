import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseExplicitMessage } from './explicit-message';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('parseExplicitMessage', () => {
  it('reads keys, tags and patterns, each optional', () => {
    assert.deepEqual(parseExplicitMessage(bytes('{"keys":["a","b"],"patterns":["p:*"]}')), {
      ok: true,
      explicit: { keys: ['a', 'b'], tags: [], patterns: ['p:*'] },
    });
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
