import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';
import Redis from 'ioredis';
import { PostgresServer, RedisServer, waitFor } from '@cdc/testing';
import { ConfigMapMount } from '../../apps/worker/src/rules/configmap-mount.test-helper';
import { WorkerProcess } from '../support/worker-process';

/**
 * Hot reload through the real worker, with the rules mounted the way the kubelet mounts a
 * ConfigMap (timestamped directory, `..data` symlink swapped by rename, `rules.yaml` a
 * symlink into it). A valid swap takes effect; an invalid one is rejected with its position
 * while the old rules keep working; swaps under a continuous write load lose no batch.
 */
const PRODUCTS = 40;
const VERSIONS = 1500; // slug versions seeded per product; past them writers change titles only
const WRITERS = 4;

/** Rule set `variant` maps a slug change to the shared slug keys plus `<variant>:slug:<new slug>`. */
function rules(variant: string, extraKeys: string[] = []): string {
  const keys = ['product:{id}', 'product:slug:{before.slug}', 'product:slug:{after.slug}', `${variant}:slug:{after.slug}`, ...extraKeys];
  return `version: 1
# variant ${variant}
rules:
  - name: product
    table: public.products
    on: [update]
    invalidate:
      keys: [${keys.map((k) => JSON.stringify(k)).join(', ')}]
  - name: marker
    table: public.markers
    invalidate:
      keys: ["marker:{id}"]
`;
}

/** A bad template on line 8 (the keys line). */
const INVALID = rules('a').replace('"product:{id}"', '"product:{id"');

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('rules hot reload (kubelet-style ConfigMap mount)', { timeout: 180_000 }, () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let r: Redis;
  let dir: string;
  let mount: ConfigMapMount;
  let worker: WorkerProcess;
  let pool: Pool;

  const applied = async () => metricValue(await worker.metrics(), 'cdc_rules_reload_total', 'outcome="applied"');
  const invalid = async () => metricValue(await worker.metrics(), 'cdc_rules_reload_total', 'outcome="invalid"');
  /** Publishes a rules file and waits until the worker reports the given outcome for it. */
  async function swap(text: string, outcome: 'applied' | 'invalid'): Promise<void> {
    const count = outcome === 'applied' ? applied : invalid;
    const n = await count();
    mount.write({ 'rules.yaml': text });
    await waitFor(`rules reload ${outcome}`, async () => (await count()) > n, 30_000, 50);
  }

  before(async () => {
    [pg, redis] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
    r = redis.client();
    dir = mkdtempSync(join(tmpdir(), 'cdc-reload-'));
    mount = new ConfigMapMount(join(dir, 'config'));
    mount.write({ 'rules.yaml': rules('a') });
    await pg.query(`
      CREATE TABLE products (id int PRIMARY KEY, slug text NOT NULL, title text NOT NULL);
      ALTER TABLE products REPLICA IDENTITY FULL;
      CREATE TABLE markers (id text PRIMARY KEY);
      INSERT INTO products SELECT g, 's-' || g || '-0', 'title' FROM generate_series(1, ${PRODUCTS}) g;
    `);
    pool = new Pool({ connectionString: pg.url, max: WRITERS });
    worker = new WorkerProcess(
      {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        RULES_FILE: mount.file('rules.yaml'),
        SOURCE: 'postgres',
        PG_SLOT: 'reload_test',
        PG_PUBLICATION: 'reload_test',
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
      join(dir, 'worker.log'),
    );
    await worker.start();
  });

  after(async () => {
    await worker?.terminate();
    await pool?.end();
    r?.disconnect();
    await redis?.destroy();
    await pg?.destroy();
  });

  it('applies a swapped ..data that adds a key', async () => {
    const text = rules('a', ['added:{id}']);
    await swap(text, 'applied');
    const metrics = await worker.metrics();
    assert.equal(metricValue(metrics, 'cdc_rules_valid'), 1);
    assert.equal(metricValue(metrics, 'cdc_rules_info', `hash="${sha256(text)}"`), 1);

    await r.set('added:1', 'cached');
    await pool.query(`UPDATE products SET title = 'reloaded' WHERE id = 1`);
    await waitFor('the key only the new rules name', async () => (await r.exists('added:1')) === 0, 30_000, 50);
  });

  it('rejects an invalid file with file:line:column and keeps the old rules working', async () => {
    await swap(INVALID, 'invalid');
    assert.equal(metricValue(await worker.metrics(), 'cdc_rules_valid'), 0);

    await r.set('added:2', 'cached');
    await pool.query(`UPDATE products SET title = 'still' WHERE id = 2`);
    await waitFor('the previous rules still invalidating', async () => (await r.exists('added:2')) === 0, 30_000, 50);

    const file = mount.file('rules.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    await waitFor('the error in the log', async () => new RegExp(`${file}:8:\\d+: error: .*unclosed`).test(readFileSync(join(dir, 'worker.log'), 'utf8')), 5_000, 50);
  });

  it('refuses a rules file over RULES_MAX_BYTES without reading it; the worker and the old rules keep running', async () => {
    // The probe: a 2.7 MB file reloaded into a running worker exhausted its 256 MB heap.
    const huge = rules('a', Array.from({ length: 150_000 }, (_, i) => `bulk:${i}:{id}`));
    assert.ok(huge.length > 2_700_000);
    await swap(huge, 'invalid');
    assert.ok(worker.running, 'the worker is still up');
    assert.equal(metricValue(await worker.metrics(), 'cdc_rules_valid'), 0);
    await r.set('added:3', 'cached');
    await pool.query(`UPDATE products SET title = 'survived' WHERE id = 3`);
    await waitFor('the previous rules still invalidating', async () => (await r.exists('added:3')) === 0, 30_000, 50);
    await waitFor('the size error in the log', async () => /rules\.yaml:1:1: error: rules file is \d+ bytes, over the limit of 524288 bytes \(RULES_MAX_BYTES\)/.test(readFileSync(join(dir, 'worker.log'), 'utf8')), 5_000, 50);
  });

  it('loses no batch while the rules are swapped under a continuous write load', async () => {
    await swap(rules('a'), 'applied'); // valid again, and a known starting set
    assert.equal(metricValue(await worker.metrics(), 'cdc_rules_valid'), 1);
    const seed = r.pipeline();
    for (let id = 1; id <= PRODUCTS; id++) {
      for (let v = 0; v <= VERSIONS; v++) {
        seed.set(`product:slug:s-${id}-${v}`, 'cached');
        seed.set(`a:slug:s-${id}-${v}`, 'cached');
        seed.set(`b:slug:s-${id}-${v}`, 'cached');
      }
    }
    seed.set('marker:done', 'cached');
    await seed.exec();

    // Each writer owns the ids ≡ k (mod WRITERS), so it knows every row's current slug.
    const version = new Map<number, number>();
    for (let id = 1; id <= PRODUCTS; id++) version.set(id, 0);
    const created: string[] = []; // every slug an update committed
    let stop = false;
    let commits = 0;
    const writer = async (k: number) => {
      const ids = [...version.keys()].filter((id) => id % WRITERS === k);
      while (!stop) {
        const id = ids[Math.floor(Math.random() * ids.length)];
        const v = version.get(id)!;
        if (v >= VERSIONS) {
          // Keeps the load on; its keys (current slug) were already checked when the slug was created.
          await pool.query(`UPDATE products SET title = md5(random()::text) WHERE id = $1`, [id]);
        } else {
          await pool.query('UPDATE products SET slug = $2 WHERE id = $1', [id, `s-${id}-${v + 1}`]);
          version.set(id, v + 1);
          created.push(`s-${id}-${v + 1}`);
        }
        commits++;
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, k) => writer(k));

    const sequence: Array<['a' | 'b' | 'bad', 'applied' | 'invalid']> = [
      ['b', 'applied'],
      ['a', 'applied'],
      ['bad', 'invalid'],
      ['b', 'applied'],
      ['a', 'applied'],
      ['b', 'applied'],
    ];
    const commitsBetweenSwaps: number[] = [];
    for (const [variant, outcome] of sequence) {
      const before = commits;
      await new Promise((res) => setTimeout(res, 150 + Math.random() * 400));
      await swap(variant === 'bad' ? INVALID : rules(variant), outcome);
      commitsBetweenSwaps.push(commits - before);
    }
    await new Promise((res) => setTimeout(res, 300));
    stop = true;
    await Promise.all(writers);
    // A marker committed after every write: once its key is gone, everything before it was applied.
    await pool.query(`INSERT INTO markers VALUES ('done')`);
    await waitFor('the marker invalidation', async () => (await r.exists('marker:done')) === 0, 60_000, 100);

    // Every committed change: its shared keys are gone, and its variant key under one of the two rule sets.
    const survivors: string[] = [];
    let underA = 0;
    let underB = 0;
    for (let i = 0; i < created.length; i += 500) {
      const chunk = created.slice(i, i + 500);
      const replies = await r.pipeline(chunk.flatMap((slug) => [['exists', `product:slug:${slug}`], ['exists', `a:slug:${slug}`], ['exists', `b:slug:${slug}`]])).exec();
      chunk.forEach((slug, j) => {
        const [shared, a, b] = [0, 1, 2].map((x) => replies![j * 3 + x][1] as number);
        if (shared === 1) survivors.push(`product:slug:${slug}`);
        if (a === 1 && b === 1) survivors.push(`a|b:slug:${slug}`);
        if (a === 0) underA++;
        if (b === 0) underB++;
      });
    }
    for (let id = 1; id <= PRODUCTS; id++) {
      if (version.get(id)! > 0 && (await r.exists(`product:slug:s-${id}-0`)) === 1) survivors.push(`product:slug:s-${id}-0`);
    }
    // Sanity: a key no change mapped to is still there (the worker does not just delete everything).
    const unfinished = [...version].find(([, v]) => v < VERSIONS);
    if (unfinished) assert.equal(await r.exists(`product:slug:s-${unfinished[0]}-${VERSIONS}`), 1);
    assert.ok(commitsBetweenSwaps.every((n) => n > 0), `writes ran through every swap (${commitsBetweenSwaps.join(', ')})`);
    assert.ok(underA > 0 && underB > 0, `changes were applied under both rule sets (a: ${underA}, b: ${underB})`);
    assert.deepEqual(survivors.slice(0, 20), [], `${survivors.length} keys survived of ${created.length} changes; worker log in ${dir}`);
    process.stdout.write(`# reload under load: ${commits} commits (${created.length} slug changes checked), ${sequence.length} swaps, applied under a: ${underA}, under b: ${underB}, 0 survivors\n`);
  });
});
