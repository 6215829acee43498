import { ConfigError, metricsRegistry } from '@cdc/core';
import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { PostgresSource } from './postgres-source';
import { PostgresSourceOptions } from './postgres-source-options';
import { slotStatus } from './slot-status';

function rejectsWith(code: string, message: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  };
}

/** start(): what it creates, and the clear errors it gives when the database is not ready. */
describe('PostgresSource setup (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  const started: PostgresSource[] = [];

  function source(options: Partial<PostgresSourceOptions>): PostgresSource {
    const s = new PostgresSource({ connectionString: pg.url, statusIntervalMs: 200, ...options });
    started.push(s);
    return s;
  }

  before(async () => {
    pg = await PostgresServer.start({ settings: { max_slot_wal_keep_size: '1MB' } });
    await pg.query(`CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); CREATE SCHEMA shop; CREATE TABLE shop.c (id int PRIMARY KEY)`);
  });

  after(async () => {
    for (const s of started) await s.stop();
    await pg?.destroy();
  });

  it('names a publication table that does not exist', async () => {
    const s = source({ slotName: 's1', publicationName: 'p1', publicationTables: ['public.a', 'public.nope', 'nowhere.*'] });
    await assert.rejects(s.start(), rejectsWith('TABLE_MISSING', /public\.nope, nowhere\.\*/));
    assert.equal((await pg.query(`SELECT 1 FROM pg_publication WHERE pubname = 'p1'`)).length, 0);
  });

  it('requires the publication and the slot when it may not create them', async () => {
    await assert.rejects(
      source({ slotName: 's2', publicationName: 'p2', createPublication: false, publicationTables: ['public.a'] }).start(),
      rejectsWith('PUBLICATION_MISSING', /publication "p2" does not exist/),
    );
    await pg.query(`CREATE PUBLICATION p2 FOR TABLE a`);
    await assert.rejects(
      source({ slotName: 's2', publicationName: 'p2', createPublication: false, createSlot: false }).start(),
      rejectsWith('SLOT_MISSING', /replication slot "s2" does not exist/),
    );
  });

  it('adds missing tables to an existing publication, globs expanded', async () => {
    await pg.query(`CREATE PUBLICATION p3 FOR TABLE a`);
    const s = source({ slotName: 's3', publicationName: 'p3', publicationTables: ['public.a', 'shop.*', 'public.b'] });
    await s.start();
    const rows = await pg.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'p3' ORDER BY 1`);
    assert.deepEqual(rows.map((r) => r.t), ['public.a', 'public.b', 'shop.c']);
    await s.stop();
  });

  it('reports slot status and refuses a slot whose WAL was lost', async () => {
    await pg.query(`SELECT pg_create_logical_replication_slot('s4', 'pgoutput')`);
    await pg.query(`INSERT INTO a SELECT generate_series(1, 1000)`);
    const fresh = await slotStatus(pg.url, 's4');
    assert.ok(fresh);
    assert.equal(fresh.active, false);
    assert.equal(fresh.activePid, null);
    assert.ok(fresh.lagBytes !== null && fresh.lagBytes > 0, `lag ${fresh.lagBytes}`);
    assert.match(fresh.confirmedFlushLsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.ok(fresh.walStatus === 'reserved' || fresh.walStatus === 'extended');
    const lag = await metricsRegistry.getSingleMetric('cdc_replication_slot_lag_bytes')?.get();
    assert.equal(lag?.values.find((v) => v.labels.slot === 's4')?.value, fresh.lagBytes);

    // Write past max_slot_wal_keep_size and checkpoint: the server invalidates the slot.
    await pg.query(`INSERT INTO a SELECT generate_series(1001, 30000); SELECT pg_switch_wal(); INSERT INTO a VALUES (30001); SELECT pg_switch_wal(); CHECKPOINT;`);
    const lost = await slotStatus(pg.url, 's4');
    assert.equal(lost?.walStatus, 'lost');
    assert.equal(await slotStatus(pg.url, 'no_such_slot'), undefined);

    await pg.query(`CREATE PUBLICATION p4 FOR TABLE a`);
    await assert.rejects(
      source({ slotName: 's4', publicationName: 'p4' }).start(),
      rejectsWith('SLOT_LOST', /wal_status = lost.*pg_drop_replication_slot\('s4'\).*backfill/),
    );
  });

  it('says what to set when wal_level is not logical', async () => {
    const replica = await PostgresServer.start({ settings: { wal_level: 'replica' } });
    try {
      const s = new PostgresSource({ connectionString: replica.url, publicationTables: ['public.a'] });
      await assert.rejects(s.start(), rejectsWith('WAL_LEVEL', /wal_level is 'replica'.*wal_level = logical.*restart/));
      assert.equal(s.status, 'idle');
    } finally {
      await replica.destroy();
    }
  });
});
