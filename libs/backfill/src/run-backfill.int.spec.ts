import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { ChangeEvent, Clock, ConfigError } from '@cdc/core';
import { PostgresServer, RedisServer, waitFor } from '@cdc/testing';
import { BackfillProgress } from './backfill-options';
import { BackfillCursor, CursorStore, MemoryCursorStore, backfillScope } from './cursor-store';
import { RedisCursorStore } from './redis-cursor-store';
import { runBackfill } from './run-backfill';

const ROWS = 10_000;

/** A MemoryCursorStore that remembers every call, to check what a run saved. */
class RecordingStore implements CursorStore {
  readonly inner = new MemoryCursorStore();
  readonly saves: BackfillCursor[] = [];
  clears = 0;
  load(scope: string): Promise<BackfillCursor | undefined> {
    return this.inner.load(scope);
  }
  async save(scope: string, cursor: BackfillCursor): Promise<void> {
    this.saves.push(cursor);
    await this.inner.save(scope, cursor);
  }
  async clear(scope: string): Promise<void> {
    this.clears++;
    await this.inner.clear(scope);
  }
}

function collector(): { events: ChangeEvent[]; handle: (events: ChangeEvent[]) => Promise<void> } {
  const events: ChangeEvent[] = [];
  return { events, handle: async (page) => void events.push(...page) };
}

describe('runBackfill (real Postgres and Redis)', () => {
  let pg: PostgresServer;
  let redisServer: RedisServer;
  let redis: Redis;
  const children: ChildProcess[] = [];

  before(async () => {
    [pg, redisServer] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
    redis = redisServer.client();
    await pg.query(`
      CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL);
      INSERT INTO items SELECT g, g % 7 FROM generate_series(1, ${ROWS}) g;
      CREATE TABLE lines (order_id int8, sku text COLLATE "C", qty int, PRIMARY KEY (order_id, sku));
      INSERT INTO lines SELECT g / 10, 'sku-' || md5(g::text), g FROM generate_series(1, ${ROWS}) g;
      CREATE TABLE typed (
        id int8 PRIMARY KEY, price numeric(12,2), at timestamptz, local timestamp, doc jsonb,
        raw bytea, flag bool, tags text[], f float8, d date, note text);
      INSERT INTO typed VALUES
        (9007199254740993, 12.30, '2024-05-01 10:00:00.123456+00', '2024-05-01 10:00:00.5', '{"a":[1,2]}',
         '\\x0a0b', true, '{x,"y z"}', 1.5, '2024-05-01', NULL);
      CREATE TABLE no_key (v int);
    `);
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    redis?.disconnect();
    await Promise.all([pg?.destroy(), redisServer?.destroy()]);
  });

  it('visits every row of a 10k-row table exactly once, in key order, as snapshot events', async () => {
    const c = collector();
    const store = new RecordingStore();
    const progress: BackfillProgress[] = [];
    const summary = await runBackfill({
      connectionString: pg.url,
      table: 'public.items',
      batchSize: 700,
      cursorStore: store,
      handle: c.handle,
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(
      c.events.map((e) => e.after?.id),
      Array.from({ length: ROWS }, (_, i) => i + 1),
    );
    assert.deepEqual({ rows: summary.rows, pages: summary.pages, completed: summary.completed }, { rows: ROWS, pages: 15, completed: true });
    assert.equal(summary.resumedFrom, undefined);
    const first = c.events[0];
    assert.deepEqual({ op: first.op, schema: first.schema, table: first.table, keyColumns: first.keyColumns }, {
      op: 'snapshot',
      schema: 'public',
      table: 'items',
      keyColumns: ['id'],
    });
    assert.equal(first.position, 'backfill:public.items:[1]');
    assert.equal(first.before, undefined);
    assert.deepEqual(store.saves.map((s) => s.after[0]), [...Array.from({ length: 14 }, (_, i) => (i + 1) * 700), ROWS]);
    assert.equal(store.clears, 1, 'a completed backfill forgets its cursor');
    assert.equal(await store.load(backfillScope('public.items')), undefined);
    assert.deepEqual(progress.map((p) => p.done).slice(-2), [9800, ROWS]);
    assert.equal(progress.at(-1)?.total, ROWS);
  });

  it('pages a composite key with row-value comparison, in the server order', async () => {
    const c = collector();
    await runBackfill({ connectionString: pg.url, table: 'lines', batchSize: 333, cursorStore: new MemoryCursorStore(), handle: c.handle });
    const expected = await pg.query<{ order_id: string; sku: string }>('SELECT order_id, sku FROM lines ORDER BY order_id, sku');
    assert.equal(c.events.length, ROWS);
    assert.deepEqual(
      c.events.map((e) => `${String(e.after?.order_id)}/${String(e.after?.sku)}`),
      expected.map((r) => `${r.order_id}/${r.sku}`),
    );
    assert.equal(new Set(c.events.map((e) => e.position)).size, ROWS, 'positions name each row');
    assert.deepEqual(c.events[0].keyColumns, ['order_id', 'sku']);
  });

  it('types values like the Postgres source', async () => {
    const c = collector();
    await runBackfill({ connectionString: pg.url, table: 'public.typed', cursorStore: new MemoryCursorStore(), handle: c.handle });
    assert.deepEqual(c.events[0].after, {
      id: '9007199254740993',
      price: '12.30',
      at: '2024-05-01T10:00:00.123456Z',
      local: '2024-05-01T10:00:00.5',
      doc: { a: [1, 2] },
      raw: '\\x0a0b',
      flag: true,
      tags: ['x', 'y z'],
      f: 1.5,
      d: '2024-05-01',
      note: null,
    });
    assert.equal(c.events[0].position, 'backfill:public.typed:["9007199254740993"]');
  });

  it('respects the where filter and counts the filtered total', async () => {
    const c = collector();
    const totals = new Set<number>();
    const summary = await runBackfill({
      connectionString: pg.url,
      table: 'items',
      where: 'n = 3 AND id > 5000',
      batchSize: 100,
      cursorStore: new MemoryCursorStore(),
      handle: c.handle,
      onProgress: (p) => totals.add(p.total),
    });
    const expected = await pg.query<{ id: number }>('SELECT id FROM items WHERE n = 3 AND id > 5000 ORDER BY id');
    assert.deepEqual(c.events.map((e) => e.after?.id), expected.map((r) => r.id));
    assert.deepEqual([...totals], [expected.length]);
    assert.equal(summary.rows, expected.length);
  });

  it('throttles with a token bucket: 4000 rows at 2000 rows/s wait 1.5 s of (virtual) time', async () => {
    let t = 0;
    const sleeps: number[] = [];
    const clock: Clock = { now: () => t, sleep: async (ms) => void (sleeps.push(ms), (t += ms)) };
    const c = collector();
    const summary = await runBackfill({
      connectionString: pg.url,
      table: 'items',
      where: 'id <= 4000',
      batchSize: 1000,
      ratePerSec: 2000,
      clock,
      cursorStore: new MemoryCursorStore(),
      handle: c.handle,
    });
    assert.equal(c.events.length, 4000);
    assert.deepEqual(sleeps, [500, 500, 500], 'the first page is the burst, each next one waits for its tokens');
    assert.deepEqual(summary.throttle, { waits: 3, waitedMs: 1500 });
    assert.ok(summary.seconds >= 1.5, `took ${summary.seconds} s of virtual time`);
  });

  it('dry run: handle sees every row, the saved cursor is used but never moved or cleared', async () => {
    const store = new RecordingStore();
    const scope = backfillScope('public.items');
    await store.inner.save(scope, { after: [9000], keyColumns: ['id'], done: 9000, savedAt: 'x' });
    const c = collector();
    const summary = await runBackfill({ connectionString: pg.url, table: 'items', dryRun: true, cursorStore: store, handle: c.handle });
    assert.deepEqual(summary.resumedFrom, [9000]);
    assert.equal(c.events.length, 1000);
    assert.equal(c.events[0].after?.id, 9001);
    assert.deepEqual([store.saves.length, store.clears], [0, 0]);
    assert.deepEqual((await store.load(scope))?.after, [9000]);
  });

  it('stops on abort between pages with the cursor after the last handled page; a rerun resumes there', async () => {
    const store = new RecordingStore();
    const abort = new AbortController();
    const first = collector();
    const summary = await runBackfill({
      connectionString: pg.url,
      table: 'items',
      batchSize: 1000,
      cursorStore: store,
      signal: abort.signal,
      handle: async (page) => {
        await first.handle(page);
        if (first.events.length === 3000) abort.abort();
      },
    });
    assert.deepEqual({ rows: summary.rows, completed: summary.completed }, { rows: 3000, completed: false });
    assert.deepEqual((await store.load(backfillScope('public.items')))?.after, [3000]);
    const second = collector();
    const rest = await runBackfill({ connectionString: pg.url, table: 'items', batchSize: 1000, cursorStore: store, handle: second.handle });
    assert.deepEqual(rest.resumedFrom, [3000]);
    assert.equal(second.events[0].after?.id, 3001);
    assert.equal(rest.rows, ROWS - 3000);
  });

  it('kill -9 mid-way: the rerun resumes after the saved cursor and every row is handled at least once', async () => {
    const script = join(__dirname, `backfill-runner.test-helper${extname(__filename)}`);
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
    const child = spawn(process.execPath, [...execArgv, script], {
      env: { ...process.env, BF_PG_URL: pg.url, BF_REDIS_URL: redisServer.url, BF_TABLE: 'public.items', BF_BATCH: '200', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    await waitFor('five pages handled by the child', async () => (out.match(/^PAGE /gm)?.length ?? 0) >= 5, 30_000);
    child.kill('SIGKILL');
    await exited;
    assert.ok(!out.includes('DONE'), 'the child was killed mid-way');

    const handledByChild = out
      .split('\n')
      .filter((l) => l.startsWith('PAGE '))
      .flatMap((l) => JSON.parse(l.slice(5)) as number[]);
    const store = new RedisCursorStore(redis);
    const scope = backfillScope('public.items');
    const saved = await store.load(scope);
    assert.ok(saved, `a cursor is saved at ${store.keyFor(scope)}`);
    const savedAfter = saved.after[0] as number;
    assert.ok(savedAfter >= 800 && savedAfter <= Math.max(...handledByChild), 'the cursor moved only past handled pages');

    const rerun = collector();
    const summary = await runBackfill({ connectionString: pg.url, table: 'public.items', batchSize: 200, cursorStore: store, handle: rerun.handle });
    const rerunIds = rerun.events.map((e) => e.after?.id as number);
    assert.deepEqual(summary.resumedFrom, [savedAfter]);
    assert.equal(rerunIds[0], savedAfter + 1, 'rows up to the saved cursor are not read again');
    const all = new Set([...handledByChild, ...rerunIds]);
    assert.equal(all.size, ROWS, 'every row handled at least once');
    const twice = rerunIds.filter((id) => handledByChild.includes(id));
    assert.ok(twice.length <= 200, `at most the page in flight is handled twice (${twice.length})`);
    assert.equal(await redis.exists(store.keyFor(scope)), 0, 'the completed backfill cleared its cursor');
  });

  it('refuses a table without a key, and a cursor saved for another key', async () => {
    const noop = async (): Promise<void> => undefined;
    await assert.rejects(
      runBackfill({ connectionString: pg.url, table: 'no_key', cursorStore: new MemoryCursorStore(), handle: noop }),
      (err: unknown) => err instanceof ConfigError && /no primary key/.test(err.message),
    );
    const store = new MemoryCursorStore();
    await store.save(backfillScope('public.items'), { after: ['a', 1], keyColumns: ['x', 'y'], done: 1, savedAt: 'x' });
    await assert.rejects(
      runBackfill({ connectionString: pg.url, table: 'items', cursorStore: store, handle: noop }),
      (err: unknown) => err instanceof ConfigError && /start a fresh backfill/.test(err.message),
    );
  });
});
