import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { FILL_SCRIPT } from './lease-scripts';

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

  it('fills only under the caller’s lease', async () => {
    await redis.set('lease:k', 'mine');
    assert.equal(await redis.eval(FILL_SCRIPT, 2, 'k', 'lease:k', 'other', 'v', 10_000), 0);
    assert.equal(await redis.get('k'), null);
    assert.equal(await redis.eval(FILL_SCRIPT, 2, 'k', 'lease:k', 'mine', 'v', 10_000), 1);
    assert.equal(await redis.get('k'), 'v');
    assert.equal(await redis.exists('lease:k'), 0);
  });
});
