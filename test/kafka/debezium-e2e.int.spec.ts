import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ChangeEvent, UNKNOWN } from '@cdc/core';
import { KafkaSource, createKafkaSource } from '@cdc/source-kafka';
import { PatientReader } from '@cdc/testing';
import { DebeziumConnect, DebeziumStack, startDebeziumStack } from '../support/debezium-harness';

/**
 * Real Debezium: Postgres (REPLICA IDENTITY FULL) → Kafka Connect + Debezium PostgreSQL
 * connector → Kafka → KafkaSource. Skipped only when the jars cannot be fetched from Maven.
 */
let fetchError: string | undefined;

describe('Debezium end to end', async () => {
  // Decided before the tests are declared, so a skip says why.
  await DebeziumConnect.fetch().catch((err: Error) => {
    fetchError = `Debezium jars could not be fetched from Maven Central: ${err.message.split('\n')[0]}`;
  });

  let stack: DebeziumStack | undefined;
  let source: KafkaSource | undefined;
  const buffered: ChangeEvent[] = [];
  let reader: PatientReader | undefined;

  /** Reads until an event matching `pred` arrives (acking what it reads), within 60 s. */
  async function next(pred: (e: ChangeEvent) => boolean): Promise<ChangeEvent> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const found = buffered.findIndex(pred);
      if (found >= 0) return buffered.splice(found, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within 60 s; got ${JSON.stringify(buffered.map((e) => [e.op, e.table]))}`);
      reader ??= new PatientReader(source!);
      const batch = await reader.next(100, Math.min(left, 1000));
      if (batch) {
        buffered.push(...batch.events);
        batch.ack();
      }
    }
  }

  before(async () => {
    if (fetchError) return;
    stack = await startDebeziumStack({
      prefix: 'cdc',
      tables: ['public.products', 'public.notes'],
      schemas: true,
      // Debezium's default decimal encoding (bytes + scale) to prove the decoder, not the string mode.
      connector: { 'snapshot.mode': 'no_data', 'decimal.handling.mode': 'precise' },
      setupSql: [
        'create table products (id bigint primary key, title text, price numeric(10,2), body text)',
        'alter table products replica identity full',
        // An incompressible value over the TOAST threshold, stored out of line.
        "insert into products select 1, 'Lamp', 9.99, string_agg(md5(g::text), '') from generate_series(1, 400) g",
        'create table notes (id int primary key, title text, body text)',
        "insert into notes select 1, 'note', string_agg(md5(g::text), '') from generate_series(1, 400) g",
      ],
    });
    // Topics exist before the source subscribes (Debezium would create them on the first change).
    await stack.kafka.createTopic('cdc.public.products', 3);
    await stack.kafka.createTopic('cdc.public.notes', 1);
    await stack.kafka.createTopic('cdc.message', 1);
    source = createKafkaSource({
      brokers: stack.kafka.brokers,
      groupId: 'e2e',
      topics: ['cdc.public.products', 'cdc.public.notes', 'cdc.message'],
      topicPrefix: 'cdc',
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
    });
    await source.start();
  });

  after(async () => {
    await source?.stop().catch(() => undefined);
    await stack?.destroy();
  });

  it('an UPDATE in Postgres arrives as a decoded update with before and after', { skip: fetchError }, async () => {
    await stack!.pg.query("update products set title = 'Desk lamp', price = 12.50 where id = 1");
    const e = await next((x) => x.op === 'update' && x.table === 'products');
    assert.equal(e.schema, 'public');
    assert.equal(e.before?.title, 'Lamp');
    assert.equal(e.after?.title, 'Desk lamp');
    assert.equal(e.before?.price, '9.99', 'precise decimal decoded from bytes + scale');
    assert.equal(e.after?.price, '12.50');
    assert.equal(e.after?.id, '1', 'int8 is a string');
    // The TOASTed body did not change: with REPLICA IDENTITY FULL the old row carries it and
    // Debezium fills the new row from it, so both sides have the value.
    assert.equal((e.before?.body as string).length, 12_800);
    assert.equal(e.after?.body, e.before?.body);
    assert.deepEqual(e.keyColumns, ['id']);
    assert.ok(e.txId);
    assert.ok(Math.abs(e.commitTimeMs - Date.now()) < 60_000, 'commit time is the transaction time');
    assert.match(e.position, /^cdc\.public\.products\/\d\/\d+$/);
  });

  it('an unchanged TOAST value of a REPLICA IDENTITY DEFAULT table arrives as UNKNOWN, not null', { skip: fetchError }, async () => {
    await stack!.pg.query("update notes set title = 'renamed' where id = 1");
    const e = await next((x) => x.op === 'update' && x.table === 'notes');
    assert.equal(e.before, undefined, 'no old row without REPLICA IDENTITY FULL');
    assert.equal(e.after?.title, 'renamed');
    assert.equal(e.after?.body, UNKNOWN);
  });

  it('INSERT and DELETE arrive with the right sides', { skip: fetchError }, async () => {
    await stack!.pg.query("insert into products values (2, 'Chair', 49.00, 'short')");
    await stack!.pg.query('delete from products where id = 2');
    const ins = await next((x) => x.op === 'insert' && x.after?.id === '2');
    assert.equal(ins.before, undefined);
    assert.equal(ins.after?.price, '49.00');
    const del = await next((x) => x.op === 'delete');
    assert.equal(del.before?.title, 'Chair');
    assert.equal(del.after, undefined);
  });

  it('TRUNCATE arrives as a truncate event (Debezium skips truncates unless skipped.operations says otherwise)', { skip: fetchError }, async () => {
    await stack!.pg.query('truncate notes');
    const e = await next((x) => x.op === 'truncate');
    assert.equal(e.schema, 'public');
    assert.equal(e.table, 'notes');
    assert.equal(e.before, undefined);
    assert.equal(e.after, undefined);
  });

  it('pg_logical_emit_message with our prefix arrives as an explicit invalidation', { skip: fetchError }, async () => {
    await stack!.pg.query(`select pg_logical_emit_message(true, 'cache-invalidation', '{"keys":["product:1"],"tags":["catalog"]}')`);
    const e = await next((x) => x.op === 'message');
    assert.deepEqual(e.explicit, { keys: ['product:1'], tags: ['catalog'], patterns: [] });
  });
});
