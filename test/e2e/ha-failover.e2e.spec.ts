import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';
import { waitFor } from '@cdc/testing';
import { survivingKeys } from '../support/sentinels';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

/**
 * High availability: two replicas share one slot through an advisory lock. Exactly one
 * streams; kill -9 it while writes run and the standby takes over from the slot's
 * confirmed position. No invalidation is lost.
 */
const RULES = `
version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}:v{after.version}"]
  - name: marker
    table: public.markers
    invalidate:
      keys: ["marker:{id}"]
`;

async function readyRole(w: WorkerProcess): Promise<{ status: number; role?: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${w.port}/readyz`);
    const body = (await res.json()) as { role?: string; message?: { role?: string } };
    return { status: res.status, role: body.role ?? body.message?.role };
  } catch {
    return { status: 0 };
  }
}

describe('HA: advisory-lock leader election', { timeout: 180_000 }, () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack('ha', RULES, { setupSql: `
      CREATE TABLE products (id int PRIMARY KEY, version int NOT NULL);
      CREATE TABLE markers (id text PRIMARY KEY);
      INSERT INTO products SELECT g, 0 FROM generate_series(1, 50) g;
    ` });
  });

  after(async () => stack?.destroy());

  it('one replica streams, the other takes over after kill -9 and nothing is lost', async () => {
    const { pg, redis, r, dir } = stack;
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      RULES_FILE: stack.rulesFile,
      PG_SLOT: 'ha_test',
      PG_PUBLICATION: 'ha_test',
      LEADER_ELECTION: 'advisory-lock',
      SHUTDOWN_TIMEOUT_MS: '5000',
    };
    const a = new WorkerProcess(env, join(dir, 'a.log'));
    const b = new WorkerProcess(env, join(dir, 'b.log'));
    await a.start();
    await b.start(false);
    await waitFor('b to report standby', async () => (await readyRole(b)).role === 'standby', 20_000);
    assert.equal((await readyRole(b)).status, 503, 'a standby is not ready');
    assert.equal((await readyRole(a)).role, 'active');

    // Seed every key the writes can produce, then write continuously.
    const MAX_V = 3000;
    const seed = r.pipeline();
    for (let id = 1; id <= 50; id++) for (let v = 1; v <= MAX_V; v++) seed.set(`product:${id}:v${v}`, 'x');
    seed.set('marker:done', 'x');
    await seed.exec();
    const pool = new Pool({ connectionString: pg.url, max: 2 });
    const expected: string[] = [];
    let stop = false;
    const writer = (async () => {
      let v = 0;
      while (!stop && v < MAX_V) {
        v++;
        for (const id of [1 + (v % 50)]) {
          await pool.query('UPDATE products SET version = $2 WHERE id = $1', [id, v]);
          expected.push(`product:${id}:v${v}`);
        }
        await new Promise((res) => setTimeout(res, 2));
      }
    })();

    await new Promise((res) => setTimeout(res, 1000));
    const killedAt = Date.now();
    await a.kill9();
    await waitFor('b to take over', async () => (await readyRole(b)).status === 200, 30_000, 50);
    const takeoverMs = Date.now() - killedAt;
    await new Promise((res) => setTimeout(res, 1000));
    stop = true;
    await writer;
    await pool.query(`INSERT INTO markers VALUES ('done')`);
    await pool.end();
    await waitFor('marker invalidation', async () => (await r.exists('marker:done')) === 0, 30_000, 100);

    const survivors = await survivingKeys(r, expected);
    assert.equal(await r.exists(`product:1:v${MAX_V}`), 1, 'keys of changes never made survive');
    await b.terminate();
    assert.ok(expected.length > 100, `writes happened (${expected.length})`);
    assert.deepEqual(survivors.slice(0, 10), [], `${survivors.length} of ${expected.length} keys survived (logs in ${dir})`);
    assert.ok(takeoverMs < 20_000, `takeover took ${takeoverMs} ms`);
    process.stdout.write(`# HA failover: standby took over ${takeoverMs} ms after kill -9 of the leader; ${expected.length} changes, 0 lost\n`);
  });
});
