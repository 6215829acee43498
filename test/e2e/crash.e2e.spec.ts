import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';
import { waitFor } from '@cdc/testing';
import { survivingKeys } from '../support/sentinels';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

/**
 * Promise 1 (no invalidation is lost) under kill -9: writes run while the worker is killed
 * with SIGKILL at random points and restarted. Every key a committed change maps to was
 * seeded first; at the end none of them may survive.
 */
const PRODUCTS = 120;
const VERSIONS = 400; // slug versions seeded per product; the writer never goes past them
const WRITERS = 4;
const KILLS = 5;

const RULES = `
version: 1
rules:
  - name: product
    table: public.products
    on: [insert, update, delete]
    invalidate:
      keys: ["product:{id}", "product:slug:{before.slug}", "product:slug:{after.slug}"]
  - name: marker
    table: public.markers
    invalidate:
      keys: ["marker:{id}"]
`;

describe('crash test: kill -9 the worker repeatedly while writes run', { timeout: 240_000 }, () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack('crash', RULES, { setupSql: `
      CREATE TABLE products (id int PRIMARY KEY, slug text NOT NULL, title text NOT NULL);
      ALTER TABLE products REPLICA IDENTITY FULL;
      CREATE TABLE markers (id text PRIMARY KEY);
      INSERT INTO products SELECT g, 's-' || g || '-0', 'title' FROM generate_series(1, ${PRODUCTS}) g;
    ` });
  });

  after(async () => stack?.destroy());

  it('loses no invalidation', async () => {
    const { pg, redis, r, dir } = stack;
    // Seed a sentinel for every key any change could map to.
    const seed = r.pipeline();
    for (let id = 1; id <= PRODUCTS; id++) {
      seed.set(`product:${id}`, 'cached');
      for (let v = 0; v <= VERSIONS; v++) seed.set(`product:slug:s-${id}-${v}`, 'cached');
    }
    seed.set('marker:done', 'cached');
    await seed.exec();

    const worker = new WorkerProcess(
      {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        RULES_FILE: stack.rulesFile,
        SOURCE: 'postgres',
        PG_SLOT: 'crash_test',
        PG_PUBLICATION: 'crash_test',
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
      join(dir, 'worker.log'),
    );
    await worker.start();

    // Writers: each owns the ids ≡ k (mod WRITERS), so it knows every row's current slug.
    const pool = new Pool({ connectionString: pg.url, max: WRITERS });
    const expected = new Set<string>();
    const version = new Map<number, number>();
    for (let id = 1; id <= PRODUCTS; id++) version.set(id, 0);
    const deleted = new Set<number>();
    let stop = false;
    let commits = 0;
    const writer = async (k: number) => {
      const ids = [...version.keys()].filter((id) => id % WRITERS === k);
      while (!stop) {
        const id = ids[Math.floor(Math.random() * ids.length)];
        const v = version.get(id)!;
        // Past the seeded versions only titles change (no new slug key to check).
        const roll = v >= VERSIONS - 2 ? 1 : Math.random();
        if (deleted.has(id)) {
          await pool.query('INSERT INTO products VALUES ($1, $2, $3)', [id, `s-${id}-${v + 1}`, 'back']);
          deleted.delete(id);
          version.set(id, v + 1);
          expected.add(`product:${id}`).add(`product:slug:s-${id}-${v + 1}`);
        } else if (roll < 0.05) {
          await pool.query('DELETE FROM products WHERE id = $1', [id]);
          deleted.add(id);
          expected.add(`product:${id}`).add(`product:slug:s-${id}-${v}`);
        } else if (roll < 0.6) {
          await pool.query('UPDATE products SET slug = $2 WHERE id = $1', [id, `s-${id}-${v + 1}`]);
          version.set(id, v + 1);
          expected.add(`product:${id}`).add(`product:slug:s-${id}-${v}`).add(`product:slug:s-${id}-${v + 1}`);
        } else {
          await pool.query('UPDATE products SET title = md5(random()::text) WHERE id = $1', [id]);
          expected.add(`product:${id}`).add(`product:slug:s-${id}-${v}`);
        }
        commits++;
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, k) => writer(k));

    for (let i = 0; i < KILLS; i++) {
      await new Promise((res) => setTimeout(res, 300 + Math.random() * 1500));
      await worker.kill9();
      await new Promise((res) => setTimeout(res, Math.random() * 300));
      await worker.start();
    }
    await new Promise((res) => setTimeout(res, 500));
    stop = true;
    await Promise.all(writers);
    // A marker committed after every write: once its key is gone, everything before it was applied.
    await pool.query(`INSERT INTO markers VALUES ('done')`);
    await pool.end();
    await waitFor('the marker invalidation', async () => (await r.exists('marker:done')) === 0, 60_000, 100);

    const keys = [...expected];
    const survivors = await survivingKeys(r, keys);
    // Sanity: keys no change mapped to are still there (the worker does not just delete everything).
    assert.equal(await r.exists(`product:slug:s-1-${VERSIONS}`), 1);
    await worker.terminate();
    const log = readFileSync(join(dir, 'worker.log'), 'utf8');
    assert.ok(commits > 200, `enough writes happened (${commits})`);
    assert.deepEqual(survivors.slice(0, 20), [], `${survivors.length} of ${keys.length} keys survived; worker log in ${dir}\n${log.slice(-2000)}`);
    process.stdout.write(`# crash test: ${commits} commits, ${KILLS} kill -9, ${keys.length} keys checked, 0 survived\n`);
  });
});
