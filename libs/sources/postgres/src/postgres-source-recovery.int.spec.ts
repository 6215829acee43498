import { metricsRegistry } from '@cdc/core';
import { PostgresServer, waitFor } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { PostgresSource } from './postgres-source';

async function reconnectCount(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('cdc_source_reconnects_total')?.get();
  return metric?.values.find((v) => v.labels.source === 'postgres')?.value ?? 0;
}

/** A Postgres crash (SIGKILL) while streaming: the source reconnects by itself and loses no committed change. */
describe('PostgresSource recovery (integration)', { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  let source: PostgresSource;

  before(async () => {
    pg = await PostgresServer.start();
    await pg.query(`CREATE TABLE t (id int PRIMARY KEY)`);
    source = new PostgresSource({
      connectionString: pg.url,
      slotName: 'recovery',
      publicationName: 'recovery',
      publicationTables: ['public.t'],
      statusIntervalMs: 200,
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    });
    await source.start();
  });

  after(async () => {
    await source?.stop();
    await pg?.destroy();
  });

  it('reconnects after a crash and delivers every committed change', async () => {
    const reconnectsBefore = await reconnectCount();
    const seen = new Set<number>();
    const reader = (async () => {
      for (;;) {
        const batch = await source.read(500);
        if (!batch) return;
        for (const e of batch.events) seen.add(Number(e.after?.id));
        batch.ack();
      }
    })();

    const committed = new Set<number>();
    const connect = async (): Promise<Client> => {
      return waitFor('postgres to take writes', async () => {
        const c = new Client({ connectionString: pg.url });
        c.on('error', () => undefined);
        try {
          await c.connect();
          return c;
        } catch {
          await c.end().catch(() => undefined);
          return undefined;
        }
      }, 30_000, 50);
    };
    let client = await connect();
    let crash: Promise<void> | undefined;
    for (let id = 1; committed.size < 400; id++) {
      try {
        await client.query('INSERT INTO t VALUES ($1)', [id]);
        committed.add(id); // the commit was acknowledged: it must be delivered
      } catch {
        await client.end().catch(() => undefined);
        client = await connect();
      }
      // Crash mid-stream, without waiting: the writer keeps going and meets the outage.
      if (committed.size === 200 && !crash) crash = pg.restart(true);
    }
    await crash;
    await client.end();

    await waitFor('every committed row to be delivered', async () => [...committed].every((id) => seen.has(id)), 60_000);
    assert.ok((await reconnectCount()) > reconnectsBefore, 'the source reconnected');
    assert.equal(source.status, 'streaming');
    await source.stop();
    await reader;
  });
});
