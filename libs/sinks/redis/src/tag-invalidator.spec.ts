import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isReservedKey } from '@cdc/protocol';
import { clusterSlotOf } from './slot-grouping';
import { holdingSetKey } from './tag-invalidator';

describe('tag holding sets', () => {
  it('live in their tag set\'s Cluster slot, under the reserved prefix, apart from tag sets', () => {
    for (const setKey of ['cdc:tag:category-7', 'cdc:tag:{shop}:t', 'cdc:tag:', 'cdc:tag:a}b', 'app:tags:x', 'cdc:tag:{}x']) {
      const hold = holdingSetKey(setKey);
      assert.equal(clusterSlotOf(hold), clusterSlotOf(setKey), `${hold} hashes like ${setKey}`);
      assert.ok(isReservedKey(hold));
      assert.ok(!hold.startsWith('cdc:tag:'), 'never mistaken for a tag set');
      assert.notEqual(holdingSetKey(setKey + 'x'), hold);
    }
  });
});
