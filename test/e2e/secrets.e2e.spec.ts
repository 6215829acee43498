import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { freePort, waitFor } from '@cdc/testing';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess, cliPath } from '../support/worker-process';

/**
 * Promise 7 (secrets never reach a log line) through the real worker at LOG_LEVEL=trace:
 * passwords with `@`, `:`, `/`, `%` and non-ASCII characters, in DATABASE_URL and REDIS_URL,
 * in the URL forms drivers accept (percent-encoded, and a raw `@` / `:` as the probe used).
 */
const PASSWORD = 'Sup3r@Secr3t:Pa/ss%wörd€';
/** Raw `@` and `:` (WHATWG URL splits userinfo at the last `@`); the rest percent-encoded. */
const REDIS_PASSWORD_IN_URL = 'Sup3r@Secr3t:Pa%2Fss%25w%C3%B6rd%E2%82%AC';
/** Every piece of the password an imperfect redactor could print. */
const FRAGMENTS = ['Sup3r', 'Secr3t', 'Pa/ss', 'Pa%2Fss', 'wörd', 'w%C3%B6rd', '%E2%82%AC', encodeURIComponent(PASSWORD)];

const RULES = `
version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}"]
`;

function assertNoSecret(output: string, where: string): void {
  for (const f of FRAGMENTS) assert.ok(!output.includes(f), `${where} leaks '${f}':\n${output.split('\n').filter((l) => l.includes(f)).slice(0, 3).join('\n')}`);
}

describe('secrets at LOG_LEVEL=trace (e2e)', { timeout: 120_000 }, () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let redis: Redis;
  let databaseUrl: string;
  let redisUrl: string;

  before(async () => {
    stack = await startStack('secrets', RULES, { setupSql: 'CREATE TABLE products (id int PRIMARY KEY, title text)' });
    // Postgres uses trust auth here, so its password only has to survive the logs; Redis checks its own.
    await stack.pg.query(`ALTER USER postgres PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
    await stack.r.config('SET', 'requirepass', PASSWORD);
    redis = new Redis({ port: stack.redis.port, host: '127.0.0.1', password: PASSWORD, maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    databaseUrl = `postgres://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${stack.pg.port}/postgres`;
    redisUrl = `redis://:${REDIS_PASSWORD_IN_URL}@127.0.0.1:${stack.redis.port}`;
    worker = new WorkerProcess(stack.workerEnv('secrets', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, LOG_LEVEL: 'trace' }), `${stack.dir}/worker.log`);
    await worker.start();
  });

  after(async () => {
    await worker?.terminate();
    redis?.disconnect();
    await stack?.destroy();
  });

  it('run streams with such passwords and its whole output holds none of them', async () => {
    await redis.set('product:1', 'cached');
    await stack.pg.query(`INSERT INTO products VALUES (1, 'a')`);
    await waitFor('product:1 to be invalidated (the worker authenticated to Redis)', async () => (await redis.exists('product:1')) === 0, 30_000, 50);
    assert.equal(await worker.terminate(), 0);
    const log = readFileSync(`${stack.dir}/worker.log`, 'utf8');
    assert.match(log, /"level":"(trace|debug)"/, 'the log is at trace level');
    assertNoSecret(log, 'run');
    assert.match(log, /redis:\/\/:\*\*\*@127\.0\.0\.1/, 'the Redis target is logged, masked');
  });

  it('commands that fail to connect mask the password in their error', async () => {
    const closed = await freePort();
    const env = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'trace' };
    const runs = [
      spawnSync(process.execPath, [cliPath(), 'cdn-dead-letters', 'list', '--redis-url', `redis://:${REDIS_PASSWORD_IN_URL}@127.0.0.1:${closed}`], {
        encoding: 'utf8',
        env,
        timeout: 60_000,
      }),
      spawnSync(process.execPath, [cliPath(), 'validate', stack.rulesFile, '--database-url', `postgres://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${closed}/postgres`], {
        encoding: 'utf8',
        env,
        timeout: 60_000,
      }),
    ];
    for (const r of runs) {
      assert.notEqual(r.status, 0, `${r.stdout}${r.stderr}`);
      assertNoSecret(`${r.stdout}${r.stderr}`, 'a failing command');
    }
  });
});
