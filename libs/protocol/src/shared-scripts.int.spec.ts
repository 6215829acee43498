import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { LeaseAffixes, leaseAffixesOf, leaseKeyOf, tagSetKey } from './key-names';
import { ACQUIRE_SCRIPT, FILL_SCRIPT, RELEASE_SCRIPT, UNLINK_WITH_LEASES, isLeaseMarker, leaseMarkerOf } from './lease-scripts';
import { RELEASE_TAG_PAGE, TAKE_TAG_PAGE, TakenPage, TagTakeKeys, parseTakenPage, releasePageArgs, tagTakeKeys, takePageArgs } from './tag-take';

describe('the shared Lua scripts (leases, tag takes) against a real Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  before(async () => {
    server = await RedisServer.start();
    redis = server.client();
  });
  after(async () => {
    redis.disconnect();
    await server.destroy();
  });

  const takePage = async (keys: TagTakeKeys, mayTake: boolean, count = 100): Promise<TakenPage> =>
    parseTakenPage(await redis.eval(TAKE_TAG_PAGE.lua, TAKE_TAG_PAGE.numberOfKeys, ...takePageArgs(keys, count, mayTake)));
  const release = async (keys: TagTakeKeys, page: TakenPage): Promise<number> =>
    (await redis.eval(RELEASE_TAG_PAGE.lua, RELEASE_TAG_PAGE.numberOfKeys, ...releasePageArgs(keys, page.epoch, page.members))) as number;

  it('a lease lives in the value key: taken when absent or unchanged, filled and released only by its holder', async () => {
    const mine = leaseMarkerOf('mine');
    const other = leaseMarkerOf('other');
    const acquire = (seen: string): Promise<unknown> => redis.eval(ACQUIRE_SCRIPT, 1, 'k', mine, 10_000, seen);
    assert.equal(await acquire(''), 1, 'k absent: the lease is ours');
    assert.equal(await redis.get('k'), mine);
    assert.ok(isLeaseMarker(mine) && !isLeaseMarker('{"e":1}\nv'));
    assert.equal(await redis.eval(ACQUIRE_SCRIPT, 1, 'k', other, 10_000, ''), mine, 'held: the reply is the holder’s marker, nothing changed');
    assert.equal(await redis.eval(FILL_SCRIPT, 1, 'k', other, 'v-other', 10_000), 0, 'only the holder fills');
    assert.equal(await redis.eval(RELEASE_SCRIPT, 1, 'k', other), 0, 'only the holder releases');
    assert.equal(await redis.eval(FILL_SCRIPT, 1, 'k', mine, 'v', 10_000), 1);
    assert.equal(await redis.get('k'), 'v');
    const pttl = await redis.pttl('k');
    assert.ok(pttl > 9000 && pttl <= 10_000, `the value's own ttl: ${pttl}`);
    // A value the caller judged a miss (expired, foreign) is replaced only if it is still exactly that.
    assert.equal(await acquire('something else'), 'v', 'changed since it was read: the reply is what k holds now');
    assert.equal(await acquire('v'), 1);
    // The worker's plain UNLINK of k revokes the lease: the late fill is refused.
    await redis.unlink('k');
    assert.equal(await redis.eval(FILL_SCRIPT, 1, 'k', mine, 'stale', 10_000), 0);
    assert.equal(await redis.exists('k'), 0);
    assert.equal(await acquire(''), 1);
    assert.equal(await redis.eval(RELEASE_SCRIPT, 1, 'k', mine), 1);
    assert.equal(await redis.exists('k'), 0);
  });

  it('protocol 1: the worker’s unlink deletes every key with the lease leaseKeyOf names, in one script call per kind of key', async () => {
    const keys = ['product:42', 'user:{7}:profile', '{x}', 'a{b', 'a}b{c}', 'x{a}}', 'é:ü:{ß}', 'k with spaces', ...Array.from({ length: 1500 }, (_, i) => `bulk:${i}`)];
    await redis.mset(Object.fromEntries(keys.flatMap((k) => [[k, 'v'], [leaseKeyOf(k), 'token']])));
    const kinds = new Map<LeaseAffixes, string[]>();
    for (const k of keys) {
      const affixes = leaseAffixesOf(k);
      assert.ok(affixes, k);
      kinds.set(affixes, [...(kinds.get(affixes) ?? []), k]);
    }
    assert.equal(kinds.size, 2, 'hash-tagged keys and keys without braces');
    let removed = 0;
    // 1500+ keys of one kind: more than one unpack() slice inside the script.
    for (const [affixes, same] of kinds) removed += (await redis.eval(UNLINK_WITH_LEASES.lua, same.length, ...same, affixes.prefix, affixes.suffix)) as number;
    assert.equal(removed, keys.length * 2);
    assert.equal(await redis.exists(...keys, ...keys.map(leaseKeyOf)), 0, 'every key and every lease gone');
  });

  it('takes the whole set at once; a key tagged after the take starts a fresh set; the drain empties the holding set', async () => {
    const keys = tagTakeKeys(tagSetKey('t1'));
    await redis.sadd(keys.setKey, 'a', 'b', 'c');
    const first = await takePage(keys, true, 2);
    assert.equal(first.took, true);
    assert.equal(first.members.length, 2);
    assert.equal(await redis.exists(keys.setKey), 0, 'the tag set moved into the holding set');
    await redis.sadd(keys.setKey, 'late');
    assert.equal(await release(keys, first), 2);
    const second = await takePage(keys, false, 2);
    assert.deepEqual([second.took, second.epoch, second.members.length], [false, first.epoch, 1], 'the rest of the same epoch');
    assert.ok(!second.members.includes('late'));
    await release(keys, second);
    assert.deepEqual(await takePage(keys, false), { took: false, epoch: '', members: [] }, 'drained; a taker that took does not take again');
    assert.equal(await redis.exists(keys.holdKey, keys.epochKey), 0, 'holding set and epoch gone');
    assert.deepEqual(await redis.smembers(keys.setKey), ['late']);
    await redis.del(keys.setKey);
  });

  it('drains a holding set left by a crashed taker before taking, and never overwrites it', async () => {
    const keys = tagTakeKeys(tagSetKey('t2'));
    await redis.sadd(keys.setKey, 'old');
    const crashed = await takePage(keys, true); // the taker dies here
    await redis.sadd(keys.setKey, 'new');
    const next = await takePage(keys, true);
    assert.deepEqual([next.took, next.epoch, next.members], [false, crashed.epoch, ['old']], 'the leftovers first, nothing taken');
    assert.deepEqual(await redis.smembers(keys.setKey), ['new']);
    await release(keys, next);
    const taken = await takePage(keys, true);
    assert.deepEqual([taken.took, taken.members], [true, ['new']]);
    assert.notEqual(taken.epoch, crashed.epoch);
    await release(keys, taken);
  });

  it('a page released after its epoch ended does not remove the same key taken again in a later epoch', async () => {
    const keys = tagTakeKeys(tagSetKey('t3'));
    await redis.sadd(keys.setKey, 'k');
    const slow = await takePage(keys, true); // taker A holds page [k]
    const fast = await takePage(keys, true); // taker B drains the same page, releases it
    assert.equal(await release(keys, fast), 1);
    await redis.sadd(keys.setKey, 'k'); // a reader re-tags k (and refills it)
    const again = await takePage(keys, true); // B (or C) takes it again, not yet deleted
    assert.deepEqual([again.took, again.members], [true, ['k']]);
    assert.equal(await release(keys, slow), 0, 'A’s late release is of an ended epoch: refused');
    assert.deepEqual(await redis.smembers(keys.holdKey), ['k'], 'k stays held until someone deletes it');
    await release(keys, again);
    assert.equal(await redis.exists(keys.holdKey, keys.epochKey), 0);
  });

  it('adopts a holding set without an epoch (left by a version before epochs)', async () => {
    const keys = tagTakeKeys(tagSetKey('t4'));
    await redis.sadd(keys.holdKey, 'x');
    const page = await takePage(keys, true);
    assert.deepEqual([page.took, page.members], [false, ['x']]);
    assert.equal(await redis.get(keys.epochKey), page.epoch);
    assert.equal(await release(keys, page), 1);
    assert.equal(await redis.exists(keys.holdKey, keys.epochKey), 0);
  });

  it('refuses a tag key that is not a set, touching nothing', async () => {
    const keys = tagTakeKeys(tagSetKey('t5'));
    await redis.set(keys.setKey, 'x');
    await assert.rejects(takePage(keys, true), /WRONGTYPE/);
    assert.equal(await redis.get(keys.setKey), 'x');
    assert.equal(await redis.exists(keys.holdKey, keys.epochKey), 0);
  });
});
