import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisServer, freePort, waitFor } from '@cdc/testing';
import { RedisClient, createRedisClient } from './redis-client';
import { redisConfigFromEnv } from './redis-config';
import { RedisInvalidationSink } from './redis-invalidation-sink';
import { testBatch } from './sink-test-batch.test-helper';

describe('Redis sink through Sentinel', () => {
  let master: RedisServer;
  let sentinel: ChildProcess | undefined;
  let dir: string;
  let client: RedisClient;

  before(async () => {
    master = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), 'cdc-sentinel-'));
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    // Sentinel rewrites its config file, so it needs its own writable copy.
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor cache 127.0.0.1 ${master.port} 1`, ''].join('\n'));
    sentinel = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    sentinel.unref();
    await waitFor('sentinel to know the master', async () => {
      const c = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.connect();
        const addr = (await c.call('SENTINEL', 'get-master-addr-by-name', 'cache')) as string[] | null;
        return addr?.[1] === String(master.port);
      } finally {
        c.disconnect();
      }
    });
    client = createRedisClient(redisConfigFromEnv({ REDIS_SENTINELS: `127.0.0.1:${port}`, REDIS_SENTINEL_NAME: 'cache' }));
  });

  after(async () => {
    client?.disconnect();
    if (sentinel && sentinel.exitCode === null && sentinel.signalCode === null) {
      const proc = sentinel;
      proc.ref();
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await exited;
    }
    await master?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('discovers the master from the sentinels and invalidates on it', async () => {
    const probe = master.client();
    try {
      await probe.mset({ 's:1': 'a', 's:2': 'b', 's:keep': 'c' });
      const sink = new RedisInvalidationSink({ client });
      await sink.start();
      await sink.apply(testBatch({ keys: ['s:1', 's:2'] }));
      assert.equal(await probe.exists('s:1', 's:2'), 0);
      assert.equal(await probe.exists('s:keep'), 1);
    } finally {
      probe.disconnect();
    }
  });
});
