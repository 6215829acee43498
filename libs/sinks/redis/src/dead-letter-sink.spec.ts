import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { UNKNOWN } from '@cdc/core';
import { serializePayload } from './dead-letter-sink';

describe('serializePayload', () => {
  it('encodes rows with the UNKNOWN marker and bigints, and never throws', () => {
    assert.equal(serializePayload({ id: 1, body: UNKNOWN, n: 10n }), '{"id":1,"body":"<unknown>","n":"10"}');
    assert.equal(serializePayload(undefined), 'null');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.equal(serializePayload(cyclic), '"[object Object]"');
  });
});
