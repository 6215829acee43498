import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { LEASE_PREFIX, hashTagOf, isReservedKey, leaseAffixesOf, leaseKeyOf, tagSetKey } from './key-names';

describe('key names shared by the worker and the client', () => {
  it('puts every lease in its key’s Cluster slot', () => {
    const keys = ['product:42', 'user:{7}:profile', '{}x', 'a{}b', 'a}b', '}', 'x{y', 'x{y}z}', '', 'é:1', '{a}{b}'];
    for (let i = 0; i < 2000; i++) keys.push(`k:${i}`, `k}${i}`, `{${i}}:v`);
    for (const key of keys) {
      const lease = leaseKeyOf(key);
      assert.ok(lease.startsWith(LEASE_PREFIX), lease);
      assert.equal(calculateSlot(lease), calculateSlot(key), `${key} -> ${lease}`);
      assert.notEqual(lease, key);
      // The worker's UNLINK_WITH_LEASES builds prefix + key + suffix in Redis: it must be this lease.
      const affixes = leaseAffixesOf(key);
      if (affixes) assert.equal(affixes.prefix + key + affixes.suffix, lease, key);
    }
    assert.deepEqual(
      ['', '}', 'a{}b', 'a}b', '{}x'].filter((k) => leaseAffixesOf(k) === undefined),
      ['', '}', 'a{}b', 'a}b', '{}x'],
      'only the empty key and a stray } without a hash tag need a computed tag',
    );
    assert.equal(leaseAffixesOf('x{y'), leaseAffixesOf('product:1'), 'one shared object per kind, to group by identity');
  });

  it('names leases and tag sets in the reserved prefix', () => {
    assert.equal(leaseKeyOf('product:42'), 'cdc:lease:{product:42}');
    assert.equal(leaseKeyOf('user:{7}:profile'), 'cdc:lease:user:{7}:profile');
    assert.equal(tagSetKey('product-1'), 'cdc:tag:product-1');
    assert.ok(isReservedKey(leaseKeyOf('x')));
    assert.equal(hashTagOf('a{}b'), undefined);
    assert.equal(hashTagOf('a{b}c'), 'b');
  });
});
