import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import Redis, { Cluster } from 'ioredis';
import { CdcError, ConfigError, TransientError } from '@cdc/core';
import { createRedisClient, describeRedisTarget, isClusterClient } from './redis-client';
import { redisConfigFromEnv } from './redis-config';
import { toRedisSinkError } from './redis-errors';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('redisConfigFromEnv', () => {
  it('defaults to a local standalone server', () => {
    assert.deepEqual(redisConfigFromEnv({}), {
      mode: 'standalone',
      url: 'redis://127.0.0.1:6379',
      username: undefined,
      password: undefined,
      tls: undefined,
      commandTimeoutMs: undefined,
      connectTimeoutMs: undefined,
    });
  });

  it('reads sentinel and cluster modes', () => {
    const sentinel = redisConfigFromEnv({ REDIS_SENTINELS: 's1:26379, [::1]:26380', REDIS_SENTINEL_NAME: 'mymaster', REDIS_PASSWORD: 'pw' });
    assert.equal(sentinel.mode, 'sentinel');
    assert.ok(sentinel.mode === 'sentinel');
    assert.deepEqual(sentinel.sentinels, [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }]);
    assert.equal(sentinel.sentinelName, 'mymaster');
    assert.equal(sentinel.password, 'pw');

    const cluster = redisConfigFromEnv({ REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_TLS: 'true', REDIS_COMMAND_TIMEOUT_MS: '250' });
    assert.ok(cluster.mode === 'cluster');
    assert.deepEqual(cluster.nodes, [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }]);
    assert.equal(cluster.tls, true);
    assert.equal(cluster.commandTimeoutMs, 250);
  });

  it('names every bad variable in one error, without echoing secrets', () => {
    const err = configError(() =>
      redisConfigFromEnv({
        REDIS_SENTINELS: 'nohostport,h:99999',
        REDIS_CLUSTER_NODES: 'a:1',
        REDIS_TLS: 'maybe',
        REDIS_COMMAND_TIMEOUT_MS: '-1',
        REDIS_PASSWORD: 's3cret',
      }),
    );
    for (const name of ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_CLUSTER_NODES', 'REDIS_TLS', 'REDIS_COMMAND_TIMEOUT_MS']) {
      assert.match(err.message, new RegExp(name), `${name} named`);
    }
    assert.ok(!err.message.includes('s3cret'));
    assert.equal(err.retriable, false);
  });

  it('rejects a bad REDIS_URL without printing it', () => {
    const err = configError(() => redisConfigFromEnv({ REDIS_URL: 'http://user:hunter2@host:1' }));
    assert.match(err.message, /REDIS_URL=\(hidden\): must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.ok(!err.message.includes('hunter2'));
    assert.match(configError(() => redisConfigFromEnv({ REDIS_URL: 'redis://h:1/notanumber' })).message, /REDIS_URL=\(hidden\): .*database/);
  });
});

describe('createRedisClient', () => {
  it('builds a lazy standalone client with fail-fast options and URL credentials', () => {
    const config = redisConfigFromEnv({ REDIS_URL: 'rediss://app:p%40ss@cache.internal:6380/2' });
    const client = createRedisClient(config) as Redis;
    try {
      assert.equal(isClusterClient(client), false);
      assert.equal(client.status, 'wait', 'nothing connects before start()');
      const o = client.options;
      assert.equal(o.host, 'cache.internal');
      assert.equal(o.port, 6380);
      assert.equal(o.db, 2);
      assert.equal(o.username, 'app');
      assert.equal(o.password, 'p@ss');
      assert.ok(o.tls, 'rediss:// implies TLS');
      assert.equal(o.enableOfflineQueue, false);
      assert.equal(o.maxRetriesPerRequest, 0);
      assert.equal(o.commandTimeout, 5000);
      assert.equal(describeRedisTarget(config), 'rediss://app:***@cache.internal:6380/2');
    } finally {
      client.disconnect();
    }
  });

  it('lets REDIS_PASSWORD override the URL password', () => {
    const client = createRedisClient(redisConfigFromEnv({ REDIS_URL: 'redis://:old@h:1', REDIS_PASSWORD: 'new' })) as Redis;
    assert.equal(client.options.password, 'new');
    client.disconnect();
  });

  it('builds a Cluster client for REDIS_CLUSTER_NODES', () => {
    const client = createRedisClient(redisConfigFromEnv({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' }));
    try {
      assert.ok(client instanceof Cluster);
      assert.equal(isClusterClient(client), true);
      assert.equal(client.options.enableOfflineQueue, false);
      assert.equal(client.options.redisOptions?.maxRetriesPerRequest, 0);
    } finally {
      client.disconnect();
    }
  });
});

describe('toRedisSinkError', () => {
  it('classifies connection failures as retriable and command errors as not', () => {
    const offline = toRedisSinkError(new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'x');
    assert.ok(offline instanceof TransientError);
    const refused = toRedisSinkError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'x');
    assert.equal(refused.retriable, true);
    assert.equal(toRedisSinkError(new Error('LOADING Redis is loading the dataset in memory'), 'x').retriable, true);
    assert.equal(toRedisSinkError(new Error('MOVED 3999 127.0.0.1:6381'), 'x').retriable, true);
    const wrongType = toRedisSinkError(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), 'reading tag sets');
    assert.ok(wrongType instanceof CdcError);
    assert.equal(wrongType.retriable, false);
    assert.match(wrongType.message, /reading tag sets: WRONGTYPE/);
  });
});
