import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { advisoryLockKey, defaultLockName } from './lock-key';

describe('advisoryLockKey', () => {
  it('is deterministic and names the slot by default', () => {
    assert.equal(defaultLockName('cdc_slot'), 'cdc-invalidator:cdc_slot');
    assert.deepEqual(advisoryLockKey('cdc-invalidator:cdc_slot'), advisoryLockKey('cdc-invalidator:cdc_slot'));
    assert.notEqual(advisoryLockKey('a').key, advisoryLockKey('b').key);
  });

  it('splits the int8 into the classid/objid pair pg_locks shows', () => {
    for (const name of ['a', 'cdc-invalidator:slot', 'ü-unicode']) {
      const k = advisoryLockKey(name);
      const asUnsigned = BigInt.asUintN(64, BigInt(k.key));
      assert.equal(BigInt(k.classid), asUnsigned >> 32n);
      assert.equal(BigInt(k.objid), asUnsigned & 0xffffffffn);
      assert.ok(BigInt(k.key) >= -(2n ** 63n) && BigInt(k.key) < 2n ** 63n, 'fits in int8');
    }
  });
});
