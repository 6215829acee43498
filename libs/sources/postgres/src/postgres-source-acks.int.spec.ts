import { PostgresServer, waitFor } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { parseLsn } from './lsn';
import { PostgresSource } from './postgres-source';
import { confirmedFlushLsn, opIds, readEvents } from './postgres-test.test-helper';

/**
 * Acks against a real server: the slot's confirmed_flush_lsn is exactly the end LSN of
 * the last acked commit and never passes an unacked one, keepalives included; unacked
 * transactions are streamed again after a restart of the source.
 */
describe('PostgresSource acks (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  const sources: PostgresSource[] = [];
  const slot = 'acks';

  /** End LSNs of commits, read independently through a second slot with SQL. */
  async function commitEndLsns(): Promise<string[]> {
    const rows = await pg.query<{ lsn: string }>(
      `SELECT lsn::text AS lsn FROM pg_logical_slot_peek_binary_changes('inspect', NULL, NULL, 'proto_version', '1', 'publication_names', 'acks')
        WHERE get_byte(data, 0) = ascii('C')`,
    );
    return rows.map((r) => r.lsn);
  }

  function newSource(): PostgresSource {
    const s = new PostgresSource({
      connectionString: pg.url,
      slotName: slot,
      publicationName: 'acks',
      publicationTables: ['public.items'],
      statusIntervalMs: 100,
      stopTimeoutMs: 100,
    });
    sources.push(s);
    return s;
  }

  before(async () => {
    // A short wal_sender_timeout makes the server send keepalives (and expect answers) often.
    pg = await PostgresServer.start({ settings: { wal_sender_timeout: '1s' } });
    await pg.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
  });

  after(async () => {
    for (const s of sources) await s.stop();
    await pg?.destroy();
  });

  it('confirms exactly the acked commit, and never past an unacked one', async () => {
    const source = newSource();
    await source.start();
    await pg.query(`SELECT pg_create_logical_replication_slot('inspect', 'pgoutput')`);
    const startLsn = await confirmedFlushLsn(pg, slot);

    await pg.query(`INSERT INTO items VALUES (1, 'a')`);
    await pg.query(`INSERT INTO items VALUES (2, 'b')`);
    const [endA, endB] = await commitEndLsns();
    assert.ok(endA && endB);

    const first = await readEvents(source, 1, { maxEvents: 1, ack: false });
    assert.deepEqual(opIds(first.events), ['insert:1']);
    const second = await readEvents(source, 1, { maxEvents: 1, ack: false });
    assert.deepEqual(opIds(second.events), ['insert:2']);

    // Nothing acked: the slot stays before commit A, keepalives notwithstanding.
    await new Promise((r) => setTimeout(r, 1500));
    const held = await confirmedFlushLsn(pg, slot);
    assert.ok(held && startLsn && parseLsn(held) >= parseLsn(startLsn) && parseLsn(held) < parseLsn(endA), `slot at ${held}, commit A ends at ${endA}`);

    first.batches[0].ack();
    await waitFor('slot to reach commit A', async () => (await confirmedFlushLsn(pg, slot)) !== held);
    assert.equal(await confirmedFlushLsn(pg, slot), endA, 'confirmed_flush_lsn is the end LSN of the acked commit');

    // Hold B for longer than wal_sender_timeout: keepalives are answered, the slot does not move.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await confirmedFlushLsn(pg, slot), endA);
    assert.equal(source.status, 'streaming', 'status updates kept the connection alive while a batch was held');
    const replies = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_replication WHERE application_name = 'cdc-invalidator'`);
    assert.equal(replies[0].n, '1');

    second.batches[0].ack();
    await waitFor('slot to reach commit B', async () => {
      const lsn = await confirmedFlushLsn(pg, slot);
      return lsn !== null && parseLsn(lsn) >= parseLsn(endB);
    });
    await source.stop();
    await pg.query(`SELECT pg_drop_replication_slot('inspect')`);
  });

  it('streams unacked transactions again after the source restarts', async () => {
    const first = newSource();
    await first.start();
    await pg.query(`INSERT INTO items VALUES (10, 'x')`);
    const acked = await readEvents(first, 1);
    assert.deepEqual(opIds(acked.events), ['insert:10']);
    await waitFor('ack of 10 to reach the slot', async () => (await confirmedFlushLsn(pg, slot)) === first.confirmedLsn);

    await pg.query(`INSERT INTO items VALUES (11, 'y'); INSERT INTO items VALUES (12, 'z')`);
    const unacked = await readEvents(first, 2, { ack: false });
    assert.deepEqual(opIds(unacked.events), ['insert:11', 'insert:12']);
    await first.stop();

    const second = newSource();
    await second.start();
    const again = await readEvents(second, 2);
    assert.deepEqual(opIds(again.events), ['insert:11', 'insert:12']);
    assert.deepEqual(
      again.events.map((e) => [e.position, e.txId]),
      unacked.events.map((e) => [e.position, e.txId]),
      'the same transactions, not new ones',
    );
    await second.stop();
  });

  it('refuses a slot another consumer is streaming from', async () => {
    const holder = newSource();
    await holder.start();
    const intruder = newSource();
    await assert.rejects(intruder.start(), (err: Error & { code?: string; retriable?: boolean }) => {
      assert.equal(err.code, 'SLOT_ACTIVE');
      assert.equal(err.retriable, true);
      assert.match(err.message, /replication slot "acks" is in use by another consumer \(walsender PID \d+\)/);
      return true;
    });
    assert.equal(intruder.status, 'idle');
    await holder.stop();
  });
});
