import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { UNLINK_WITH_LEASES, leaseKeyOf } from '@cdc/protocol';
import { chunk, clusterSlotOf, groupBySlot, multiKeyCommands, singleSlotOf, splitByKey, unlinkCommands } from './slot-grouping';

describe('slot grouping', () => {
  it('computes Redis Cluster hash slots, honouring {hash tags}', () => {
    // Reference values from `CLUSTER KEYSLOT` on a real server.
    assert.equal(clusterSlotOf('foo'), 12182);
    assert.equal(clusterSlotOf('bar'), 5061);
    assert.equal(clusterSlotOf('{user1000}.following'), clusterSlotOf('{user1000}.followers'));
    assert.equal(clusterSlotOf('{user1000}.following'), clusterSlotOf('user1000'));
    // An empty hash tag does not count: the whole key is hashed.
    assert.notEqual(clusterSlotOf('{}a'), clusterSlotOf('{}b'));
  });

  it('groups keys by slot, keeping order inside a slot', () => {
    const keys = ['{a}1', 'x', '{a}2', 'y', '{a}3'];
    const groups = groupBySlot(keys, clusterSlotOf);
    assert.deepEqual(groups.get(clusterSlotOf('a')), ['{a}1', '{a}2', '{a}3']);
    const total = [...groups.values()].reduce((n, g) => n + g.length, 0);
    assert.equal(total, keys.length);
    for (const [slot, group] of groups) for (const k of group) assert.equal(clusterSlotOf(k), slot);
  });

  it('builds multi-key commands that never mix slots and respect the chunk size', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `product:${i}`);
    const commands = multiKeyCommands('unlink', keys, 7, clusterSlotOf);
    const seen: string[] = [];
    for (const c of commands) {
      assert.equal(c.name, 'unlink');
      assert.ok(c.args.length >= 1 && c.args.length <= 7);
      for (const k of c.args) {
        assert.equal(clusterSlotOf(String(k)), c.slot, `${k} is not in slot ${c.slot}`);
        seen.push(String(k));
      }
    }
    assert.deepEqual(seen.sort(), [...keys].sort(), 'every key exactly once');
  });

  it('puts every key in one group for standalone, chunked', () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
    const commands = multiKeyCommands('unlink', keys, 1000, singleSlotOf);
    assert.deepEqual(commands.map((c) => c.args.length), [1000, 1000, 500]);
    assert.deepEqual(commands.flatMap((c) => c.args), keys, 'order kept');
  });

  it('chunks arrays and rejects a non-positive size', () => {
    assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(chunk([], 3), []);
    assert.throws(() => chunk([1], 0), RangeError);
  });

  it('keeps every key and its lease in one command, never mixing slots, chunking by keys', () => {
    const keys = [...Array.from({ length: 500 }, (_, i) => `product:${i}`), 'user:{7}:a', 'user:{7}:b', '', 'odd}key', 'a{}b}', 'x:{1}', 'y:{1}'];
    const explicit = new Set(['', 'odd}key', 'a{}b}']);
    for (const slotOf of [clusterSlotOf, singleSlotOf]) {
      const commands = unlinkCommands(keys, 7, slotOf, true);
      const seen: string[] = [];
      for (const c of commands) {
        assert.ok(c.keys.length >= 1 && c.keys.length <= 7);
        if (c.name === 'unlink') {
          // Only keys whose lease the script cannot derive travel with an explicit lease.
          for (const k of c.keys) assert.ok(explicit.has(k), k);
          assert.deepEqual(c.args, c.keys.flatMap((k) => [k, leaseKeyOf(k)]), 'each key followed by its lease');
        } else {
          assert.equal(c.name, UNLINK_WITH_LEASES.name);
          for (const k of c.keys) assert.ok(!explicit.has(k), k);
          const [prefix, suffix] = c.args.slice(-2) as string[];
          assert.deepEqual(c.args, [c.keys.length, ...c.keys, prefix, suffix], 'numkeys, the keys, then the lease affixes');
          for (const k of c.keys) assert.equal(prefix + k + suffix, leaseKeyOf(k), 'Redis builds exactly the lease of each key');
        }
        for (const a of c.name === 'unlink' ? c.args : c.keys) assert.equal(slotOf(a as string), c.slot, `${a} in slot ${c.slot}`);
        seen.push(...c.keys);
      }
      assert.deepEqual(seen.sort(), [...keys].sort());
    }
    assert.deepEqual(unlinkCommands(['a', 'b'], 10, singleSlotOf), [{ name: 'unlink', args: ['a', 'b'], slot: 0, keys: ['a', 'b'] }]);
  });

  it('splits a refused command into one command per key of the same kind', () => {
    const [scripted] = unlinkCommands(['a', 'b'], 10, singleSlotOf, true);
    assert.deepEqual(splitByKey(scripted), [
      { name: UNLINK_WITH_LEASES.name, args: [1, 'a', 'cdc:lease:{', '}'], slot: 0, keys: ['a'] },
      { name: UNLINK_WITH_LEASES.name, args: [1, 'b', 'cdc:lease:{', '}'], slot: 0, keys: ['b'] },
    ]);
    const [plain] = unlinkCommands(['x}', 'y}'], 10, singleSlotOf, true);
    assert.deepEqual(splitByKey(plain).map((c) => c.args), [['x}', leaseKeyOf('x}')], ['y}', leaseKeyOf('y}')]]);
  });
});
