import { ColumnDemand, UNKNOWN, metricsRegistry } from '@cdc/core';
import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresSource } from './postgres-source';
import { readEvents } from './postgres-test.test-helper';

/** The column demand against a real server: what is decoded, and a reload that asks for more. */
describe('PostgresSource column demand (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  let source: PostgresSource;
  const demandOf = (columns: string[]): ColumnDemand => {
    const set = new Set(columns);
    return { columnsOf: (_schema, table) => (table === 'docs' ? set : new Set()) };
  };
  let demand = demandOf(['title']);
  const restreams = async (): Promise<number> => {
    const metric = await metricsRegistry.getSingleMetric('cdc_source_restreams_total')?.get();
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  };
  /** Until the walsender has sent all WAL written so far (then a moment for the source to decode it). */
  const untilSent = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const [row] = await pg.query<{ sent: boolean }>(`SELECT sent_lsn >= pg_current_wal_lsn() AS sent FROM pg_stat_replication WHERE application_name = 'cdc-invalidator'`);
      if (row?.sent) break;
      await sleep(50);
    }
    await sleep(200);
  };

  before(async () => {
    pg = await PostgresServer.start();
    await pg.query(`CREATE TABLE docs (id int PRIMARY KEY, title text, body text, n int); CREATE TABLE other (id int PRIMARY KEY, v text);`);
    source = new PostgresSource({
      connectionString: pg.url,
      slotName: 'columns',
      publicationName: 'columns',
      publicationTables: ['public.docs', 'public.other'],
      statusIntervalMs: 200,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
      columns: () => demand,
    });
    await source.start();
  });

  after(async () => {
    await source?.stop();
    await pg?.destroy();
  });

  it('decodes the demanded columns and the key; the rest is UNKNOWN', async () => {
    await pg.query(`INSERT INTO docs VALUES (1, 't1', 'b1', 1)`);
    await pg.query(`INSERT INTO other VALUES (1, 'v')`);
    const { events } = await readEvents(source, 2);
    assert.deepEqual(events[0].after, { id: 1, title: 't1', body: UNKNOWN, n: UNKNOWN });
    assert.deepEqual(events[1].after, { id: 1, v: UNKNOWN });
  });

  it('after a reload that reads more columns, never hands out an event decoded without them: they are streamed again', async () => {
    await pg.query(`INSERT INTO docs VALUES (2, 't2', 'b2', 2), (3, 't3', 'b3', 3)`);
    await untilSent(); // decoded with the old demand, waiting in the buffer
    const before = await restreams();
    demand = demandOf(['title', 'body']);
    const { events } = await readEvents(source, 2);
    assert.deepEqual(
      events.map((e) => e.after),
      [
        { id: 2, title: 't2', body: 'b2', n: UNKNOWN },
        { id: 3, title: 't3', body: 'b3', n: UNKNOWN },
      ],
    );
    assert.equal(await restreams(), before + 1);
    assert.equal(source.status, 'streaming');
  });

  it('after a reload that reads fewer columns, keeps streaming and decodes less from the next row on', async () => {
    await pg.query(`INSERT INTO docs VALUES (4, 't4', 'b4', 4)`);
    await untilSent();
    const before = await restreams();
    demand = demandOf(['body']);
    await pg.query(`INSERT INTO docs VALUES (5, 't5', 'b5', 5)`);
    const { events } = await readEvents(source, 2);
    assert.deepEqual(
      events.map((e) => e.after),
      [
        { id: 4, title: 't4', body: 'b4', n: UNKNOWN }, // decoded before: more than asked, still exact
        { id: 5, title: UNKNOWN, body: 'b5', n: UNKNOWN },
      ],
    );
    assert.equal(await restreams(), before);
  });
});
