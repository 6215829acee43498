import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';
import { waitFor } from '@cdc/testing';
import { survivingKeys } from '../support/sentinels';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

/**
 * Promise 1 across server failures: a Redis outage (kill -9, down for a while, back with its
 * data from the AOF) and a Postgres crash-restart while writes run. After recovery every key
 * a committed change maps to is gone. Then SIGTERM: the worker exits 0 within its deadline
 * and the slot is confirmed up to what it applied.
 */
const RULES = `
version: 1
rules:
  - name: item
    table: public.items
    invalidate:
      keys: ["item:{id}:v{after.version}"]
      tags: ["group-{after.grp}"]
  - name: marker
    table: public.markers
    invalidate:
      keys: ["marker:{id}"]
`;

describe('outages: Redis down, Postgres crash, graceful stop', { timeout: 180_000 }, () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack('outage', RULES, {
      // AOF so the seeded sentinels survive the Redis kill -9 and the test can see what was deleted.
      redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
      setupSql: `
        CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL, grp int NOT NULL);
        CREATE TABLE markers (id text PRIMARY KEY);
        INSERT INTO items SELECT g, 0, g % 5 FROM generate_series(1, 40) g;
      `,
    });
  });

  after(async () => stack?.destroy());

  it('loses nothing through a Redis outage and a Postgres crash, then stops cleanly', async () => {
    const { pg, redis, r, dir } = stack;
    const MAX_V = 4000;
    const seed = r.pipeline();
    for (let id = 1; id <= 40; id++) for (let v = 1; v <= MAX_V; v++) seed.set(`item:${id}:v${v}`, 'x');
    for (let g = 0; g < 5; g++) {
      seed.sadd(`cdc:tag:group-${g}`, `page:group-${g}`);
      seed.set(`page:group-${g}`, 'x');
    }
    seed.set('marker:done', 'x');
    await seed.exec();

    const worker = new WorkerProcess(
      stack.workerEnv('outage', { SHUTDOWN_TIMEOUT_MS: '10000' }),
      join(dir, 'worker.log'),
    );
    await worker.start();

    const expected: string[] = [];
    let stop = false;
    let failedWrites = 0;
    const writer = (async () => {
      let v = 0;
      let pool = new Pool({ connectionString: pg.url, max: 1 });
      pool.on('error', () => undefined);
      while (!stop && v < MAX_V) {
        const id = 1 + ((v + 1) % 40);
        try {
          await pool.query('UPDATE items SET version = $2 WHERE id = $1', [id, v + 1]);
          v++;
          expected.push(`item:${id}:v${v}`);
        } catch {
          // Postgres is restarting: the change did not commit; try again on a fresh pool.
          failedWrites++;
          await pool.end().catch(() => undefined);
          await new Promise((res) => setTimeout(res, 200));
          pool = new Pool({ connectionString: pg.url, max: 1 });
          pool.on('error', () => undefined);
        }
        await new Promise((res) => setTimeout(res, 3));
      }
      await pool.end().catch(() => undefined);
    })();

    await new Promise((res) => setTimeout(res, 700));
    // Redis outage: down for 3 s while commits keep coming.
    await redis.stop(true);
    const committedDuringOutage = expected.length;
    await new Promise((res) => setTimeout(res, 3000));
    assert.ok(expected.length > committedDuringOutage, 'writes continued during the Redis outage');
    await redis.restart();
    await new Promise((res) => setTimeout(res, 1000));
    // Postgres crash-restart while streaming.
    await pg.restart(true);
    await new Promise((res) => setTimeout(res, 1500));
    stop = true;
    await writer;

    const marker = new Pool({ connectionString: pg.url, max: 1 });
    await marker.query(`INSERT INTO markers VALUES ('done')`);
    await marker.end();
    await waitFor('marker invalidation', async () => (await r.exists('marker:done')) === 0, 60_000, 100);

    const survivors = await survivingKeys(r, expected);
    assert.equal(await r.exists(`item:1:v${MAX_V}`), 1, 'keys of changes never made survive');
    assert.equal(await r.exists('page:group-1'), 0, 'tag members were invalidated');
    assert.ok(expected.length > 200, `writes happened (${expected.length}, ${failedWrites} failed during the crash)`);
    assert.deepEqual(survivors.slice(0, 10), [], `${survivors.length} of ${expected.length} keys survived (log: ${dir}/worker.log)`);

    // Graceful stop: exit 0 and the slot confirmed up to the marker's commit.
    const lsnBefore = (await pg.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`))[0].lsn;
    const started = Date.now();
    const code = await worker.terminate();
    const stopMs = Date.now() - started;
    assert.equal(code, 0, 'graceful stop exits 0');
    assert.ok(stopMs < 10_000, `stopped within the deadline (${stopMs} ms)`);
    const slot = (await pg.query<{ confirmed: string; behind: string }>(
      `SELECT confirmed_flush_lsn::text AS confirmed, (pg_wal_lsn_diff($1::pg_lsn, confirmed_flush_lsn) > 0)::text AS behind
         FROM pg_replication_slots WHERE slot_name = 'outage'`,
      [lsnBefore],
    ))[0];
    assert.equal(slot.behind, 'false', `slot confirmed ${slot.confirmed} covers everything committed before the stop (${lsnBefore})`);
    process.stdout.write(`# outages: ${expected.length} changes across a 3 s Redis outage and a Postgres crash, 0 lost; SIGTERM stop in ${stopMs} ms\n`);
  });
});
