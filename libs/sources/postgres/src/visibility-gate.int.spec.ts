import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { PostgresSource } from './postgres-source';
import { readEvents } from './postgres-test.test-helper';
import { VisibilityGate } from './visibility-gate';

/**
 * 32-bit xids against real 64-bit ones: a server whose xid counter is moved to just below
 * the end of epoch 6, so the test's transactions straddle the boundary into epoch 7.
 */
describe('VisibilityGate across an xid epoch boundary (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  const clients: Client[] = [];
  let gate: VisibilityGate | undefined;
  let source: PostgresSource | undefined;

  async function client(): Promise<Client> {
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    clients.push(c);
    return c;
  }

  before(async () => {
    pg = await PostgresServer.start();
    await pg.query('CREATE TABLE items (id int PRIMARY KEY)');
    await pg.setNextXid(6, 2 ** 32 - 150);
  });

  after(async () => {
    await source?.stop();
    await gate?.close();
    for (const c of clients) await c.end().catch(() => undefined);
    await pg?.destroy();
  });

  it('holds an epoch-6 transaction that is still open after the counter wrapped, and releases it at commit', async () => {
    gate = new VisibilityGate(pg.url);
    await gate.open();
    const open = await client();
    await open.query('BEGIN');
    const { rows } = await open.query<{ full: string }>('SELECT pg_current_xact_id()::text AS full');
    const full = BigInt(rows[0].full);
    assert.equal(full >> 32n, 6n, 'the open transaction is in epoch 6');
    const xid32 = Number(full & 0xffffffffn);
    // Push the counter into epoch 7.
    for (let i = 0; i < 200; i++) await pg.query('SELECT pg_current_xact_id()');
    const [{ next }] = await pg.query<{ next: string }>('SELECT pg_current_xact_id()::text AS next');
    assert.equal(BigInt(next) >> 32n, 7n, 'the counter wrapped into epoch 7');

    let cancel = false;
    const held = gate.waitUntilVisible([xid32], () => cancel);
    const outcome = await Promise.race([held.then((v) => (v ? 'visible' : 'cancelled')), new Promise((r) => setTimeout(() => r('held'), 500))]);
    assert.equal(outcome, 'held', 'an open transaction is not visible');
    await open.query('COMMIT');
    assert.equal(await held, true, 'visible once committed');
    cancel = true;
    await gate.close();
    await open.end();
  });

  it('hands out every transaction on both sides of the boundary', async () => {
    await pg.setNextXid(8, 2 ** 32 - 100);
    source = new PostgresSource({ connectionString: pg.url, slotName: 'epoch', publicationName: 'epoch', publicationTables: ['public.items'], stopTimeoutMs: 200 });
    await source.start();
    for (let i = 1; i <= 200; i++) await pg.query('INSERT INTO items VALUES ($1)', [i]);
    const [{ next }] = await pg.query<{ next: string }>('SELECT pg_current_xact_id()::text AS next');
    assert.equal(BigInt(next) >> 32n, 9n);
    const { events } = await readEvents(source, 200, { timeoutMs: 20_000 });
    assert.deepEqual(events.map((e) => e.after?.id), Array.from({ length: 200 }, (_, i) => i + 1));
  });
});
