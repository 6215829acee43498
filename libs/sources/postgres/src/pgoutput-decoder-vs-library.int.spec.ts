import { ChangeEvent, ColumnDemand, Row, UNKNOWN } from '@cdc/core';
import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { LogicalReplicationService, Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { canonicalLsn } from './lsn';
import { PostgresSource } from './postgres-source';
import { SESSION_OPTIONS } from './replication-connection';
import { readEvents } from './postgres-test.test-helper';
import { parserForType } from './value-parsers';

/**
 * The source's own pgoutput decoder against pg-logical-replication's parser on the same
 * WAL (two slots created at the same position): every row event must be the same,
 * value for value, as the events the library-based decoder produced (the rules of
 * pgoutput-decoder.ts applied to the library's messages, kept here as the reference).
 * With a narrowed column demand, the decoded columns must still equal the library's.
 */

/** Row events as the library-based decoder built them (explicit messages left out: they have their own specs). */
function libraryEvents(messages: Pgoutput.Message[]): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  let txn: { position: string; commitTimeMs: number; txId: string } | undefined;
  const toRow = (rel: Pgoutput.MessageRelation, tuple: Record<string, unknown>): Row => {
    const row: Record<string, unknown> = {};
    for (const { name } of rel.columns) row[name] = tuple[name] === undefined ? UNKNOWN : tuple[name];
    return row;
  };
  const keyedRow = (rel: Pgoutput.MessageRelation, source: Record<string, unknown>): Row => {
    const row: Record<string, unknown> = {};
    for (const { name } of rel.columns) row[name] = UNKNOWN;
    for (const name of rel.keyColumns) if (source[name] !== undefined) row[name] = source[name];
    return row;
  };
  const emit = (op: ChangeEvent['op'], rel: Pgoutput.MessageRelation, before?: Row, after?: Row) => {
    if (!txn) return;
    const e: Record<string, unknown> = { op, schema: rel.schema, table: rel.name, keyColumns: rel.keyColumns, ...txn };
    if (before) e.before = before;
    if (after) e.after = after;
    events.push(e as unknown as ChangeEvent);
  };
  for (const msg of messages) {
    if (msg.tag === 'begin') txn = { position: msg.commitLsn ? canonicalLsn(msg.commitLsn) : '0/0', commitTimeMs: Number(msg.commitTime as bigint) / 1000, txId: String(msg.xid >>> 0) };
    else if (msg.tag === 'commit') txn = undefined;
    else if (msg.tag === 'insert') emit('insert', msg.relation, undefined, toRow(msg.relation, msg.new));
    else if (msg.tag === 'update') emit('update', msg.relation, msg.old ? toRow(msg.relation, msg.old) : keyedRow(msg.relation, msg.key ?? msg.new), toRow(msg.relation, msg.new));
    else if (msg.tag === 'delete') emit('delete', msg.relation, msg.old ? toRow(msg.relation, msg.old) : keyedRow(msg.relation, msg.key ?? {}));
    else if (msg.tag === 'truncate') for (const rel of msg.relations) if (rel) emit('truncate', rel);
  }
  return events;
}

/** Every message of the slot up to `count` row messages, parsed by the library (with our value parsers, as the worker used them). */
async function libraryMessages(pg: PostgresServer, slot: string, rowMessages: number): Promise<Pgoutput.Message[]> {
  const service = new LogicalReplicationService({ connectionString: pg.url, options: SESSION_OPTIONS }, { acknowledge: { auto: false, timeoutSeconds: 0 } });
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['cmp'], messages: true });
  const messages: Pgoutput.Message[] = [];
  let rows = 0;
  const done = new Promise<void>((resolve) => {
    service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
      if (msg.tag === 'relation') for (const c of msg.columns) c.parser = parserForType(c.typeOid, c.typeName);
      messages.push(msg);
      if (msg.tag === 'insert' || msg.tag === 'update' || msg.tag === 'delete' || msg.tag === 'truncate') rows++;
      if (msg.tag === 'commit' && rows >= rowMessages) resolve();
    });
  });
  void service.subscribe(plugin, slot, '0/0').catch(() => undefined);
  await done;
  await service.stop();
  return messages;
}

async function sourceEvents(pg: PostgresServer, slot: string, count: number, columns?: () => ColumnDemand): Promise<ChangeEvent[]> {
  const source = new PostgresSource({ connectionString: pg.url, slotName: slot, publicationName: 'cmp', createSlot: false, createPublication: false, columns });
  await source.start();
  try {
    const { events } = await readEvents(source, count);
    return events.filter((e) => e.op !== 'message');
  } finally {
    await source.stop();
  }
}

describe('pgoutput decoding: own decoder vs pg-logical-replication on the same WAL (integration)', { timeout: 180_000 }, () => {
  let pg: PostgresServer;
  let library: ChangeEvent[];
  const slots = ['cmp_lib', 'cmp_own', 'cmp_narrow'];

  before(async () => {
    pg = await PostgresServer.start({ settings: { timezone: 'Asia/Kolkata' } });
    await pg.query(`
      CREATE TYPE mood AS ENUM ('happy', 'sad');
      CREATE TABLE typed (
        id int PRIMARY KEY, small int2, big int8, num numeric(30,6), flag bool, ratio float8, real4 float4,
        at timestamptz, plain timestamp, day date, t time, iv interval, doc jsonb, j json, tags text[], nums int4[],
        uid uuid, note text, raw bytea, moods mood[], m mood, addr inet, empty text, "Odd Name" text, "ünï" text);
      CREATE TABLE full_t (id int PRIMARY KEY, slug text, body text, n int);
      ALTER TABLE full_t REPLICA IDENTITY FULL;
      ALTER TABLE full_t ALTER COLUMN body SET STORAGE EXTERNAL;
      CREATE TABLE def_t (id int PRIMARY KEY, slug text, body text);
      ALTER TABLE def_t ALTER COLUMN body SET STORAGE EXTERNAL;
      CREATE TABLE idx_t (a int NOT NULL, b text NOT NULL, c text);
      CREATE UNIQUE INDEX idx_t_ab ON idx_t (a, b);
      ALTER TABLE idx_t REPLICA IDENTITY USING INDEX idx_t_ab;
      CREATE PUBLICATION cmp FOR TABLE typed, full_t, def_t, idx_t;`);
    for (const slot of slots) await pg.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const big = 'x'.repeat(5000) + 'ü';
    await pg.query(`INSERT INTO typed VALUES (
      1, -7, 9007199254740993, -12345678901234567890.123456, true, 'NaN', '-Infinity',
      '2024-05-01 10:00:00.123456+00', '2024-05-01 10:00:00.5', '0044-03-15 BC', '10:11:12', '1 day 02:00:00',
      '{"a":[1,"x",null],"big":123456789012345678901}', '[1, 2.50]',
      ARRAY['x','y z',NULL,'q"uote', 'ü'], '{{1,2},{3,4}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'héllo ✓', '\\x0a0bff', '{happy,sad}', 'sad', '10.0.0.1/8', NULL, 'odd', 'ü')`);
    await pg.query(`INSERT INTO typed (id) VALUES (2)`);
    await pg.query(`UPDATE typed SET note = 'bye', flag = false, at = 'infinity' WHERE id = 1`);
    await pg.query(`DELETE FROM typed WHERE id = 2`);
    await pg.query(`INSERT INTO full_t VALUES (1, 'old', $1, 1), (2, 'two', NULL, NULL)`, [big]);
    await pg.query(`UPDATE full_t SET slug = 'new' WHERE id = 1`); // body unchanged and TOASTed: from the old tuple
    await pg.query(`UPDATE full_t SET id = 3, body = 'short' WHERE id = 1`);
    await pg.query(`DELETE FROM full_t WHERE id = 2`);
    await pg.query(`INSERT INTO def_t VALUES (1, 's', $1)`, [big]);
    await pg.query(`UPDATE def_t SET slug = 't' WHERE id = 1`); // no old tuple, body unchanged TOAST
    await pg.query(`UPDATE def_t SET id = 2 WHERE id = 1`); // old key
    await pg.query(`DELETE FROM def_t WHERE id = 2`);
    await pg.query(`INSERT INTO idx_t VALUES (1, 'k', 'c1')`);
    await pg.query(`UPDATE idx_t SET c = 'c2' WHERE a = 1`);
    await pg.query(`UPDATE idx_t SET b = 'k2' WHERE a = 1`);
    await pg.query(`DELETE FROM idx_t WHERE a = 1`);
    await pg.query(`
      BEGIN;
      INSERT INTO def_t VALUES (10, 'in-tx', 'b');
      SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"keys":["k"]}');
      UPDATE def_t SET body = NULL WHERE id = 10;
      COMMIT;`);
    await pg.query(`TRUNCATE def_t, idx_t`);
    library = libraryEvents(await libraryMessages(pg, 'cmp_lib', 20));
  });

  after(async () => {
    await pg?.destroy();
  });

  it('produces exactly the library-based events with every column decoded', async () => {
    assert.equal(library.length, 21); // 20 row messages, the truncate covers two tables
    const own = await sourceEvents(pg, 'cmp_own', library.length + 1);
    assert.deepEqual(own, library);
  });

  it('with a narrowed demand, decodes the demanded columns (and keys) exactly as the library, the rest UNKNOWN', async () => {
    const wanted: Record<string, string[]> = { typed: ['note', 'doc', 'Odd Name'], full_t: ['body'], def_t: ['slug'], idx_t: [] };
    const demand: ColumnDemand = { columnsOf: (_schema, table) => new Set(wanted[table] ?? []) };
    const own = await sourceEvents(pg, 'cmp_narrow', library.length + 1, () => demand);
    assert.equal(own.length, library.length);
    const keysOf = (e: ChangeEvent) => (e.table === 'full_t' ? [] : (e.keyColumns ?? []));
    const narrowed = (e: ChangeEvent, row: Row | undefined): Row | undefined => {
      if (!row) return undefined;
      const decoded = new Set([...wanted[e.table], ...keysOf(e)]);
      return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, decoded.has(k) ? v : UNKNOWN]));
    };
    const expected = library.map((e) => {
      const out: Record<string, unknown> = { ...e };
      if (e.before) out.before = narrowed(e, e.before);
      if (e.after) out.after = narrowed(e, e.after);
      return out;
    });
    assert.deepEqual(own, expected);
    assert.equal(own.find((e) => e.table === 'full_t' && e.op === 'update')?.after?.body, 'x'.repeat(5000) + 'ü', 'unchanged TOAST taken from the old tuple');
  });
});
