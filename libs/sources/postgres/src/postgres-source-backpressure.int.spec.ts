import { SourceBatch, metricsRegistry } from '@cdc/core';
import { PostgresServer, waitFor } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { parseLsn } from './lsn';
import { PostgresSource } from './postgres-source';
import { confirmedFlushLsn } from './postgres-test.test-helper';

const ROWS = 1_000_000;
const MAX_BUFFERED = 20_000;

async function gaugeValue(name: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => v.labels.source === 'postgres')?.value ?? 0;
}

/**
 * A 1,000,000-row transaction streams through in bounded memory: the socket is paused
 * while the reader is slow, chunks are handed out mid-transaction, and the commit is
 * confirmed only once the last chunk is acked.
 */
describe('PostgresSource backpressure (integration)', { timeout: 180_000 }, () => {
  let pg: PostgresServer;
  let source: PostgresSource;

  before(async () => {
    pg = await PostgresServer.start();
    await pg.query(`CREATE TABLE bulk (id int PRIMARY KEY, v int)`);
    source = new PostgresSource({
      connectionString: pg.url,
      slotName: 'bulk',
      publicationName: 'bulk',
      publicationTables: ['public.bulk'],
      maxBufferedEvents: MAX_BUFFERED,
      statusIntervalMs: 500,
    });
    await source.start();
  });

  after(async () => {
    await source?.stop();
    await pg?.destroy();
  });

  it('streams a 1M-row transaction in bounded memory and confirms it only after the last chunk', async () => {
    const before = await confirmedFlushLsn(pg, 'bulk');
    await pg.query(`INSERT INTO bulk SELECT g, g FROM generate_series(1, ${ROWS}) g`);
    const commitEnd = (await pg.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0].lsn;

    // Nobody reads: the buffer fills up to its bound and the socket is paused.
    await waitFor('the source to pause its input', async () => (await gaugeValue('cdc_source_paused')) === 1, 60_000);
    const global = globalThis as { gc?: () => void };
    global.gc?.();
    const baseline = process.memoryUsage();
    let maxHeap = baseline.heapUsed;
    let maxRss = baseline.rss;
    let maxBuffered = 0;
    let pausedSeen = 0;

    let received = 0;
    let expectedId = 1;
    let commitLsn = '';
    let last: SourceBatch | undefined;
    let batches = 0;
    while (received < ROWS) {
      const batch = await source.read(1000);
      assert.ok(batch);
      batches++;
      for (const e of batch.events) {
        // Chunks keep stream order.
        assert.equal(e.after?.id, expectedId++);
        commitLsn = e.position;
      }
      received += batch.events.length;
      if (received < ROWS) batch.ack();
      else last = batch;
      if (batches % 10 === 0) {
        const mem = process.memoryUsage();
        maxHeap = Math.max(maxHeap, mem.heapUsed);
        maxRss = Math.max(maxRss, mem.rss);
        maxBuffered = Math.max(maxBuffered, await gaugeValue('cdc_source_buffered_events'));
        pausedSeen += await gaugeValue('cdc_source_paused');
      }
      // A slow reader (about 100k events/s, below the walsender's pace): the buffer stays full.
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(received, ROWS);
    assert.ok(batches > 1, 'the transaction came in several chunks');

    // Every chunk but the last is acked: the slot has not reached the commit. (It may have
    // moved up to the transaction's commit record: keepalives received between transactions
    // confirm WAL that holds no finished transaction; the open one is still streamed again.)
    await new Promise((r) => setTimeout(r, 1200));
    const held = await confirmedFlushLsn(pg, 'bulk');
    assert.ok(held && before && parseLsn(held) >= parseLsn(before));
    assert.ok(parseLsn(held) <= parseLsn(commitLsn), `slot at ${held}, before the commit at ${commitLsn}`);
    assert.ok(parseLsn(source.confirmedLsn) <= parseLsn(commitLsn));

    last?.ack();
    await waitFor('the commit to be confirmed', async () => {
      const lsn = await confirmedFlushLsn(pg, 'bulk');
      return lsn !== null && parseLsn(lsn) >= parseLsn(commitEnd);
    });

    const heapGrowthMb = (maxHeap - baseline.heapUsed) / 2 ** 20;
    const rssMb = maxRss / 2 ** 20;
    console.log(`1M-row drain: ${batches} batches, heap growth ${heapGrowthMb.toFixed(1)} MB, max RSS ${rssMb.toFixed(0)} MB, max buffered ${maxBuffered}, paused samples ${pausedSeen}`);
    assert.ok(heapGrowthMb < 200, `heap grew by ${heapGrowthMb.toFixed(1)} MB while draining`);
    assert.ok(maxBuffered <= MAX_BUFFERED * 1.5, `buffered up to ${maxBuffered} events`);
    assert.ok(pausedSeen > 0, 'the input was paused while draining');
  });
});
