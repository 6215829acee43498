import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { isReservedKey } from './key-names';
import { tagTakeKeys } from './tag-take';

describe('tag take keys', () => {
  it('live in their tag set\'s Cluster slot, under the reserved prefix, apart from tag sets', () => {
    for (const setKey of ['cdc:tag:category-7', 'cdc:tag:{shop}:t', 'cdc:tag:', 'cdc:tag:a}b', 'app:tags:x', 'cdc:tag:{}x', 'cdc:tag:é']) {
      const { holdKey, epochKey } = tagTakeKeys(setKey);
      for (const k of [holdKey, epochKey]) {
        assert.equal(calculateSlot(k), calculateSlot(setKey), `${k} hashes like ${setKey}`);
        assert.ok(isReservedKey(k));
        assert.ok(!k.startsWith('cdc:tag:'), 'never mistaken for a tag set');
      }
      assert.notEqual(holdKey, epochKey);
      assert.notEqual(tagTakeKeys(setKey + 'x').holdKey, holdKey);
    }
  });
});
