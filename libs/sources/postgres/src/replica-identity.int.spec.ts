import { ConfigError } from '@cdc/core';
import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { PostgresSource } from './postgres-source';
import { PostgresSourceOptions } from './postgres-source-options';
import { checkRulesAgainstDatabase } from './rules-database-check';
import { opIds, readEvents } from './postgres-test.test-helper';

/**
 * Starting the source must never break the application's writes: a table without a usable
 * replica identity is not published for update/delete (Postgres would reject the
 * application's UPDATE and DELETE on it). It is refused, or published insert-only when allowed.
 */
describe('tables without replica identity (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  const started: PostgresSource[] = [];

  function source(options: Partial<PostgresSourceOptions>): PostgresSource {
    const s = new PostgresSource({ connectionString: pg.url, statusIntervalMs: 200, ...options });
    started.push(s);
    return s;
  }

  /** The application's writes on `table`: they must keep working whatever the worker did. */
  async function appWrites(table: string): Promise<void> {
    await pg.query(`INSERT INTO ${table} VALUES (1)`);
    await pg.query(`UPDATE ${table} SET a = 2 WHERE a = 1`);
    await pg.query(`DELETE FROM ${table} WHERE a = 2`);
  }

  const published = async (pub: string): Promise<string[]> =>
    (await pg.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, [pub])).map((r) => r.t);

  before(async () => {
    pg = await PostgresServer.start();
    await pg.query(`
      CREATE TABLE ok (id int PRIMARY KEY);
      CREATE TABLE nopk (a int);
      CREATE TABLE nothing (a int PRIMARY KEY); ALTER TABLE nothing REPLICA IDENTITY NOTHING;
      CREATE TABLE dropped_index (a int NOT NULL); CREATE UNIQUE INDEX dropped_index_a ON dropped_index (a);
      ALTER TABLE dropped_index REPLICA IDENTITY USING INDEX dropped_index_a; DROP INDEX dropped_index_a;
      CREATE TABLE log (a int);
      CREATE TABLE legacy (a int);`);
  });

  after(async () => {
    for (const s of started) await s.stop();
    await pg?.destroy();
  });

  it('refuses to publish them, names each table and the fixes, and leaves the application writing', async () => {
    const s = source({ slotName: 's1', publicationName: 'p1', publicationTables: ['public.ok', 'public.nopk', 'public.nothing', 'public.dropped_index'] });
    await assert.rejects(s.start(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'REPLICA_IDENTITY_MISSING');
      assert.match(err.message, /table public\.nopk has no replica identity \(no primary key \(REPLICA IDENTITY DEFAULT\)\)/);
      assert.match(err.message, /table public\.nothing has no replica identity \(REPLICA IDENTITY NOTHING\)/);
      assert.match(err.message, /table public\.dropped_index has no replica identity \(REPLICA IDENTITY USING INDEX names an index that no longer exists\)/);
      assert.match(err.message, /add a primary key, or ALTER TABLE public\.nopk REPLICA IDENTITY FULL, or ALTER TABLE public\.nopk REPLICA IDENTITY USING INDEX/);
      assert.match(err.message, /PG_ALLOW_INSERT_ONLY_TABLES=public\.nopk/);
      return true;
    });
    await appWrites('nopk');
    await pg.query(`INSERT INTO nothing VALUES (1); UPDATE nothing SET a = 2; DELETE FROM nothing`);
  });

  it('publishes an allowed table for inserts only, in a second publication the slot also streams', async () => {
    const s = source({ slotName: 's2', publicationName: 'p2', publicationTables: ['public.ok', 'public.log'], insertOnlyTables: ['public.log'] });
    await s.start();
    assert.deepEqual(await published('p2'), ['public.ok']);
    assert.deepEqual(await published('p2_insert_only'), ['public.log']);
    const flags = await pg.query<{ i: boolean; u: boolean; d: boolean; t: boolean }>(
      `SELECT pubinsert AS i, pubupdate AS u, pubdelete AS d, pubtruncate AS t FROM pg_publication WHERE pubname = 'p2_insert_only'`,
    );
    assert.deepEqual(flags[0], { i: true, u: false, d: false, t: true });
    await appWrites('log');
    await pg.query(`INSERT INTO ok VALUES (7)`);
    const { events } = await readEvents(s, 2);
    assert.deepEqual(
      events.filter((e) => e.op !== 'message').map((e) => `${e.table}:${e.op}`),
      ['log:insert', 'ok:insert'],
    );
    assert.deepEqual(opIds(events.filter((e) => e.table === 'ok')), ['insert:7']);
  });

  it('moves an allowed table that an earlier start had put in the main publication, in one step', async () => {
    await pg.query(`CREATE PUBLICATION p3 FOR TABLE ok, legacy`);
    await assert.rejects(pg.query(`UPDATE legacy SET a = 1`), /does not have a replica identity and publishes updates/);
    const s = source({ slotName: 's3', publicationName: 'p3', publicationTables: ['public.ok', 'public.legacy'], insertOnlyTables: ['public.leg*'] });
    await s.start();
    assert.deepEqual(await published('p3'), ['public.ok']);
    assert.deepEqual(await published('p3_insert_only'), ['public.legacy']);
    await appWrites('legacy');
  });

  it('refuses such a table already in the publication, and refuses to create FOR ALL TABLES while one exists', async () => {
    await pg.query(`CREATE TABLE legacy2 (a int); CREATE PUBLICATION p4 FOR TABLE legacy2`);
    await assert.rejects(source({ slotName: 's4', publicationName: 'p4', publicationTables: ['public.legacy2'] }).start(), /refusing to publish public\.legacy2/);
    await assert.rejects(
      source({ slotName: 's5', publicationName: 'p5', publicationTables: 'all' }).start(),
      /FOR ALL TABLES publication publishes every table for update\/delete: list the tables instead/,
    );
    assert.equal((await pg.query(`SELECT 1 FROM pg_publication WHERE pubname = 'p5'`)).length, 0);
  });

  it('validate against the database reports the same error, or a warning when insert-only is allowed', async () => {
    const location = { file: 'r.yaml', line: 4, column: 3 };
    const rules = { rules: [{ name: 'logs', tables: ['public.nopk'], ops: ['insert' as const], location, columns: [], changedColumns: [] }] };
    const problems = await checkRulesAgainstDatabase(rules, pg.url, { publicationName: 'p9' });
    const errors = problems.filter((p) => p.severity === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /table public\.nopk has no replica identity .* Fix: add a primary key, or ALTER TABLE public\.nopk REPLICA IDENTITY FULL/);
    const allowed = await checkRulesAgainstDatabase(rules, pg.url, { publicationName: 'p9', insertOnlyTables: ['public.nopk'] });
    assert.deepEqual(allowed.filter((p) => p.severity === 'error'), []);
    assert.ok(allowed.some((p) => /published for inserts and truncates only/.test(p.message)));
  });
});
