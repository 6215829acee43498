import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { compileGlob, globEscape } from './glob';

/** The reference is Redis itself: every pattern must select exactly the keys SCAN MATCH selects. */
describe('glob agrees with a real Redis SCAN MATCH', () => {
  let server: RedisServer;
  let redis: Redis;
  before(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('on a mixed set of keys and patterns', async () => {
    const keys = ['a', 'b', 'ab', 'abc', 'a*c', 'a?c', 'a[b]c', 'a\\c', 'x-y', 'x]y', 'search:1', 'search:', 'search:a:b', 'p:{7}:q', 'Z', 'é', 'a]'];
    await redis.mset(...keys.flatMap((k) => [k, '1']));
    const patterns = ['*', 'a*', 'a?c', 'a[b-c]*', 'a[^b]c', 'a\\*c', 'a\\?c', '[a-b]', '[b-a]', 'x[-]y', 'x[]]y', 'search:*', 'search:?', 'p:{7}:*', 'a\\\\c', '[a', 'a]', '?', ...keys.map(globEscape)];
    for (const pattern of patterns) {
      const fromRedis = new Set<string>();
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const k of found) fromRedis.add(k);
      } while (cursor !== '0');
      const match = compileGlob(pattern);
      const ours = new Set(keys.filter((k) => match(k)));
      assert.deepEqual([...ours].sort(), [...fromRedis].sort(), `pattern ${JSON.stringify(pattern)}`);
    }
  });
});
