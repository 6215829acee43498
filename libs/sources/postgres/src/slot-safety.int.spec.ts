import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { PostgresServer, waitFor } from '@cdc/testing';
import { PostgresSource } from './postgres-source';
import { checkReplicationSettings, emitSlotHeartbeat } from './slot-safety';
import { confirmedFlushLsn, readEvents } from './postgres-test.test-helper';
import { parseLsn } from './lsn';

describe('slot safety (integration)', () => {
  describe('settings checks', () => {
    let loose: PostgresServer;
    let tuned: PostgresServer;
    before(async () => {
      loose = await PostgresServer.start({ settings: { synchronous_commit: 'off', wal_writer_delay: '200ms' } });
      tuned = await PostgresServer.start({ settings: { max_slot_wal_keep_size: '1GB' } });
    });
    after(async () => {
      await loose?.destroy();
      await tuned?.destroy();
    });

    it('warns about unlimited max_slot_wal_keep_size and a slow asynchronous commit', async () => {
      const findings = await checkReplicationSettings(loose.url);
      assert.equal(findings.length, 2);
      assert.match(findings[0], /max_slot_wal_keep_size is unlimited/);
      assert.match(findings[1], /synchronous_commit is off with wal_writer_delay=200ms/);
    });

    it('is quiet on a bounded, synchronous server', async () => {
      assert.deepEqual(await checkReplicationSettings(tuned.url), []);
    });
  });

  describe('heartbeat', () => {
    let pg: PostgresServer;
    let source: PostgresSource;
    before(async () => {
      pg = await PostgresServer.start({ settings: { wal_sender_timeout: '2s' } });
      await pg.query('CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE busy (id int PRIMARY KEY, v text)');
      source = new PostgresSource({ connectionString: pg.url, slotName: 'hb', publicationName: 'hb', publicationTables: ['public.watched'], statusIntervalMs: 200 });
      await source.start();
    });
    after(async () => {
      await source?.stop();
      await pg?.destroy();
    });

    it('lets a slot whose tables are quiet confirm past WAL written elsewhere', async () => {
      await pg.query('INSERT INTO watched VALUES (1)');
      await readEvents(source, 1);
      // Lots of WAL on a table the slot does not publish, then a heartbeat message.
      await pg.query(`INSERT INTO busy SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`);
      const hb = await emitSlotHeartbeat(pg.url);
      await waitFor(
        'the slot to confirm past the heartbeat',
        async () => {
          const lsn = await confirmedFlushLsn(pg, 'hb');
          return lsn !== null && parseLsn(lsn) >= parseLsn(hb);
        },
        20_000,
        100,
      );
      // The heartbeat is not an invalidation: nothing is handed out for it.
      const next = await Promise.race([source.read(10), new Promise<null>((r) => setTimeout(() => r(null), 300))]);
      assert.equal(next, null);
    });
  });
});
