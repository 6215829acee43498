import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { tagSetKey } from './key-names';
import { FILL_SCRIPT, TAKE_TAG_SCRIPT, takenTagKeyOf } from './lease-scripts';

describe('shared lease scripts against a real Redis', () => {
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

  it('keeps a tag set and its taken copy in one slot', () => {
    for (const tag of ['product-1', '{x}y', 'a}b', '', 'é']) {
      const set = tagSetKey(tag);
      assert.equal(calculateSlot(takenTagKeyOf(set, 'worker')), calculateSlot(set), tag);
    }
  });

  it('fills only under the caller’s lease', async () => {
    await redis.set('lease:k', 'mine');
    assert.equal(await redis.eval(FILL_SCRIPT, 2, 'k', 'lease:k', 'other', 'v', 10_000), 0);
    assert.equal(await redis.get('k'), null);
    assert.equal(await redis.eval(FILL_SCRIPT, 2, 'k', 'lease:k', 'mine', 'v', 10_000), 1);
    assert.equal(await redis.get('k'), 'v');
    assert.equal(await redis.exists('lease:k'), 0);
  });

  it('takes a tag atomically, and a retry with the same copy finds what an interrupted take left', async () => {
    const set = tagSetKey('t');
    const taken = takenTagKeyOf(set, 'worker');
    await redis.sadd(set, 'a', 'b');
    assert.equal(await redis.eval(TAKE_TAG_SCRIPT, 2, set, taken, 60_000), 2);
    assert.equal(await redis.exists(set), 0);
    await redis.sadd(set, 'c'); // tagged after the take: a new set
    assert.equal(await redis.eval(TAKE_TAG_SCRIPT, 2, set, taken, 60_000), 3, 'the interrupted take’s members are still there');
    assert.ok((await redis.pttl(taken)) > 0);
    await redis.set(tagSetKey('s'), 'x');
    await assert.rejects(redis.eval(TAKE_TAG_SCRIPT, 2, tagSetKey('s'), takenTagKeyOf(tagSetKey('s'), 'w'), 1000), /WRONGTYPE/);
  });
});
