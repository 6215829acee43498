import { UNKNOWN } from '@cdc/core';
import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { PostgresSource } from './postgres-source';
import { MemoryDeadLetters, readEvents } from './postgres-test.test-helper';

/** Decoding against a real server: types, replica identity, TOAST, truncate, logical messages. */
describe('PostgresSource decoding (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  let source: PostgresSource;
  const deadLetters = new MemoryDeadLetters();

  before(async () => {
    // A non-UTC server zone proves the source pins TimeZone=UTC for the values it decodes.
    pg = await PostgresServer.start({ settings: { timezone: 'Asia/Kolkata' } });
    await pg.query(`
      CREATE TABLE typed (
        id int PRIMARY KEY, small int2, big int8, num numeric(30,6), flag bool, ratio float8,
        at timestamptz, plain timestamp, day date, doc jsonb, tags text[], nums int4[], uid uuid,
        note text, raw bytea, empty text);
      CREATE TABLE full_t (id int PRIMARY KEY, slug text, body text);
      ALTER TABLE full_t REPLICA IDENTITY FULL;
      ALTER TABLE full_t ALTER COLUMN body SET STORAGE EXTERNAL;
      CREATE TABLE def_t (id int PRIMARY KEY, slug text, body text);
      ALTER TABLE def_t ALTER COLUMN body SET STORAGE EXTERNAL;
      CREATE TABLE other_t (id int PRIMARY KEY);`);
    source = new PostgresSource({
      connectionString: pg.url,
      slotName: 'decoding',
      publicationName: 'decoding',
      publicationTables: ['public.typed', 'public.*_t'],
      statusIntervalMs: 200,
      deadLetters,
    });
    await source.start();
  });

  after(async () => {
    await source?.stop();
    await pg?.destroy();
  });

  it('creates the publication with the listed and globbed tables', async () => {
    const rows = await pg.query<{ t: string }>(`SELECT tablename AS t FROM pg_publication_tables WHERE pubname = 'decoding' ORDER BY 1`);
    assert.deepEqual(rows.map((r) => r.t), ['def_t', 'full_t', 'other_t', 'typed']);
    assert.equal(source.status, 'streaming');
  });

  it('decodes insert, update, delete and truncate with typed values', async () => {
    await pg.query(`INSERT INTO typed VALUES (
      1, 7, 9007199254740993, 12345678901234567890.123456, true, 0.5,
      '2024-05-01 10:00:00.123456+00', '2024-05-01 10:00:00.5', '2024-05-01', '{"a":[1,"x",null],"b":{"c":true}}',
      ARRAY['x','y z',NULL,'q"uote'], '{{1,2},{3,4}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'hello', '\\x0a0bff', NULL)`);
    await pg.query(`UPDATE typed SET note = 'bye', flag = false WHERE id = 1`);
    await pg.query(`DELETE FROM typed WHERE id = 1`);
    await pg.query(`TRUNCATE typed, other_t`);
    const { events } = await readEvents(source, 5);

    const [ins, upd, del, tr1, tr2] = events;
    assert.equal(ins.op, 'insert');
    assert.equal(ins.schema, 'public');
    assert.equal(ins.table, 'typed');
    assert.deepEqual(ins.keyColumns, ['id']);
    assert.equal(ins.before, undefined);
    assert.deepEqual(ins.after, {
      id: 1,
      small: 7,
      big: '9007199254740993',
      num: '12345678901234567890.123456',
      flag: true,
      ratio: 0.5,
      at: '2024-05-01T10:00:00.123456Z',
      plain: '2024-05-01T10:00:00.5',
      day: '2024-05-01',
      doc: { a: [1, 'x', null], b: { c: true } },
      tags: ['x', 'y z', null, 'q"uote'],
      nums: [
        [1, 2],
        [3, 4],
      ],
      uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      note: 'hello',
      raw: '\\x0a0bff',
      empty: null,
    });
    assert.match(ins.position, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.ok(ins.txId && /^\d+$/.test(ins.txId));
    // Commit time is Unix ms with a µs fraction, close to now (server and test share a clock).
    assert.ok(Math.abs(ins.commitTimeMs - Date.now()) < 60_000, `commitTimeMs ${ins.commitTimeMs}`);

    assert.equal(upd.op, 'update');
    assert.equal(upd.after?.note, 'bye');
    assert.equal(upd.after?.flag, false);
    // Default replica identity, key unchanged: before has the key, everything else unknown.
    assert.equal(upd.before?.id, 1);
    assert.equal(upd.before?.note, UNKNOWN);
    assert.equal(upd.before?.flag, UNKNOWN);
    assert.equal(Object.keys(upd.before ?? {}).length, 16);

    assert.equal(del.op, 'delete');
    assert.equal(del.after, undefined);
    assert.equal(del.before?.id, 1);
    assert.equal(del.before?.note, UNKNOWN);

    assert.deepEqual(
      [tr1, tr2].map((e) => [e.op, e.table, e.before, e.after]),
      [
        ['truncate', 'typed', undefined, undefined],
        ['truncate', 'other_t', undefined, undefined],
      ],
    );
    assert.equal(tr1.position, tr2.position, 'one truncate statement, one transaction');
    assert.notEqual(ins.position, upd.position);
  });

  it('gives old and new values of a key change on a REPLICA IDENTITY FULL table', async () => {
    await pg.query(`INSERT INTO full_t VALUES (1, 'old-slug', 'b')`);
    await pg.query(`UPDATE full_t SET id = 2, slug = 'new-slug' WHERE id = 1`);
    await pg.query(`DELETE FROM full_t WHERE id = 2`);
    const { events } = await readEvents(source, 3);
    const [, upd, del] = events;
    assert.deepEqual(upd.before, { id: 1, slug: 'old-slug', body: 'b' });
    assert.deepEqual(upd.after, { id: 2, slug: 'new-slug', body: 'b' });
    assert.deepEqual(del.before, { id: 2, slug: 'new-slug', body: 'b' });
  });

  it('gives the old key and UNKNOWN for the rest on a key change with default identity', async () => {
    await pg.query(`INSERT INTO def_t VALUES (1, 's', 'b')`);
    await pg.query(`UPDATE def_t SET id = 5 WHERE id = 1`);
    const { events } = await readEvents(source, 2);
    assert.deepEqual(events[1].before, { id: 1, slug: UNKNOWN, body: UNKNOWN });
    assert.deepEqual(events[1].after, { id: 5, slug: 's', body: 'b' });
  });

  it('marks an unchanged TOASTed value UNKNOWN, never null (and fills it from a FULL old tuple)', async () => {
    const big = 'x'.repeat(5000); // > 2 kB with STORAGE EXTERNAL: stored out of line
    await pg.query(`INSERT INTO def_t VALUES (10, 'a', $1)`, [big]);
    await pg.query(`UPDATE def_t SET slug = 'b' WHERE id = 10`);
    await pg.query(`INSERT INTO full_t VALUES (10, 'a', $1)`, [big]);
    await pg.query(`UPDATE full_t SET slug = 'b' WHERE id = 10`);
    const { events } = await readEvents(source, 4);
    assert.equal(events[0].after?.body, big);
    assert.equal(events[1].after?.slug, 'b');
    assert.equal(events[1].after?.body, UNKNOWN);
    assert.equal(events[1].before?.body, UNKNOWN);
    assert.equal(events[3].before?.body, big);
    assert.equal(events[3].after?.body, big);
  });

  it('applies transactional messages with the prefix in commit order, ignores others, dead-letters malformed ones', async () => {
    await pg.query(`
      BEGIN;
      INSERT INTO other_t VALUES (100);
      SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"keys":["product:1"],"tags":["t1"]}');
      SELECT pg_logical_emit_message(true, 'someone-else', '{"keys":["nope"]}');
      SELECT pg_logical_emit_message(false, 'cache-invalidation', '{"keys":["not-transactional"]}');
      SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"keys": 1}');
      SELECT pg_logical_emit_message(true, 'cache-invalidation', 'not json');
      INSERT INTO other_t VALUES (101);
      COMMIT;`);
    await pg.query(`INSERT INTO other_t VALUES (102)`);
    const { events } = await readEvents(source, 4);
    assert.deepEqual(
      events.map((e) => (e.op === 'message' ? `message:${e.explicit?.keys.join(',')}` : `${e.op}:${String(e.after?.id)}`)),
      ['insert:100', 'message:product:1', 'insert:101', 'insert:102'],
    );
    const message = events[1];
    assert.deepEqual(message.explicit, { keys: ['product:1'], tags: ['t1'], patterns: [] });
    assert.equal(message.position, events[0].position);
    assert.equal(message.schema, '');
    assert.equal(deadLetters.letters.length, 2);
    assert.match(deadLetters.letters[0].reason, /keys/);
    assert.match(deadLetters.letters[1].reason, /not JSON/);
    assert.equal(deadLetters.letters[0].source, 'postgres');
    assert.equal(deadLetters.letters[0].position, events[0].position);
    assert.deepEqual((deadLetters.letters[1].payload as { content: string }).content, 'not json');
  });
});
