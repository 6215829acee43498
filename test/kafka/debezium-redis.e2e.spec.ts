import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { Consumer } from 'kafkajs';
import { RedisServer, waitFor } from '@cdc/testing';
import { WorkerProcess } from '../support/worker-process';
import { DebeziumConnect, DebeziumStack, startDebeziumStack } from '../support/debezium-harness';

/**
 * The whole Kafka path, nothing stubbed: an UPDATE in Postgres → Debezium (Kafka Connect) →
 * Kafka → the real worker process (`cdc-invalidator run`, SOURCE=kafka) → the Redis keys and
 * tagged keys the rules name are gone and an L1 message was published. Then a poison record
 * goes to the dead-letter topic and the stream goes on. Skipped only when the Debezium jars
 * cannot be fetched from Maven.
 */
const TOPIC = 'cdc.public.products';
const GROUP = 'e2e-worker';
const DLQ = `${GROUP}.dlq`;

const RULES = `
version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}", "product:slug:{before.slug}", "product:slug:{after.slug}"]
      tags: ["category-{before.category_id}", "category-{after.category_id}"]
      channels: ["l1:products"]
`;

interface L1Message {
  v: number;
  source: string;
  channel: string;
  position: string;
  keys: string[];
  tags: string[];
}

let fetchError: string | undefined;

describe('Debezium → Kafka → worker → Redis', { timeout: 150_000 }, async () => {
  await DebeziumConnect.fetch().catch((err: Error) => {
    fetchError = `Debezium jars could not be fetched from Maven Central: ${err.message.split('\n')[0]}`;
  });

  let stack: DebeziumStack | undefined;
  let redis: RedisServer | undefined;
  let r: Redis;
  let sub: Redis;
  let worker: WorkerProcess | undefined;
  let dir: string;
  let dlqConsumer: Consumer | undefined;
  const l1: L1Message[] = [];

  before(async () => {
    if (fetchError) return;
    dir = mkdtempSync(join(tmpdir(), 'cdc-debezium-redis-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    [stack, redis] = await Promise.all([
      startDebeziumStack({
        prefix: 'cdc',
        tables: ['public.products'],
        schemas: true,
        setupSql: [
          'create table products (id int primary key, slug text not null, title text not null, category_id int not null)',
          'alter table products replica identity full',
          "insert into products values (1, 'old-slug', 'Lamp', 3), (2, 'chair', 'Chair', 5)",
        ],
      }),
      RedisServer.start(),
    ]);
    r = redis.client();
    sub = redis.client();
    sub.on('message', (_channel: string, message: string) => {
      const m = JSON.parse(message) as L1Message & { type?: string };
      if (m.type !== 'heartbeat') l1.push(m); // the channel also carries heartbeats when idle
    });
    await sub.subscribe('l1:products');
    await stack.kafka.createTopic(TOPIC, 2);
    await stack.kafka.createTopic(DLQ, 1);
    worker = new WorkerProcess(
      {
        SOURCE: 'kafka',
        KAFKA_BROKERS: stack.kafka.bootstrap,
        KAFKA_TOPICS: TOPIC,
        KAFKA_TOPIC_PREFIX: 'cdc',
        KAFKA_GROUP_ID: GROUP,
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        REDIS_URL: redis.url,
        RULES_FILE: join(dir, 'rules.yaml'),
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
      join(dir, 'worker.log'),
    );
    await worker.start();
  });

  after(async () => {
    await dlqConsumer?.disconnect().catch(() => undefined);
    await worker?.terminate();
    sub?.disconnect();
    r?.disconnect();
    await Promise.all([stack?.destroy(), redis?.destroy()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an UPDATE deletes the keys and tagged keys the rules name and publishes an L1 message', { skip: fetchError }, async () => {
    await r
      .multi()
      .set('product:1', 'cached')
      .set('product:slug:old-slug', 'cached')
      .set('product:slug:new-slug', 'cached')
      .set('category-page:3', 'cached')
      .sadd('cdc:tag:category-3', 'category-page:3')
      .set('category-page:4', 'cached')
      .sadd('cdc:tag:category-4', 'category-page:4')
      .set('product:2', 'cached')
      .set('category-page:5', 'cached')
      .sadd('cdc:tag:category-5', 'category-page:5')
      .exec();

    await stack!.pg.query("update products set slug = 'new-slug', category_id = 4 where id = 1");

    const gone = ['product:1', 'product:slug:old-slug', 'product:slug:new-slug', 'category-page:3', 'category-page:4', 'cdc:tag:category-3', 'cdc:tag:category-4'];
    await waitFor('the update to be invalidated in Redis', async () => (await r.exists(...gone)) === 0, 60_000, 100);
    assert.equal(await r.exists('product:2', 'category-page:5', 'cdc:tag:category-5'), 3, 'other rows untouched');

    const msg = await waitFor('the L1 message', async () => l1.find((m) => m.keys.includes('product:1')), 10_000);
    assert.equal(msg.v, 2);
    assert.equal(msg.source, 'kafka');
    assert.equal(msg.channel, 'l1:products');
    assert.match(msg.position, /^cdc\.public\.products\/\d\/\d+$/);
    assert.deepEqual([...msg.keys].sort(), ['product:1', 'product:slug:new-slug', 'product:slug:old-slug']);
    assert.deepEqual([...msg.tags].sort(), ['category-3', 'category-4']);
  });

  it('a poison record goes to the dead-letter topic with its reason, and the stream goes on', { skip: fetchError }, async () => {
    const kafka = stack!.kafka.client();
    // One poison record on each partition, so row 2's next update comes after one whichever partition it uses.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, acks: -1, messages: [0, 1].map((partition) => ({ partition, key: `poison-${partition}`, value: '{"this is": not json' })) });
    await producer.disconnect();
    await stack!.pg.query("update products set title = 'Armchair' where id = 2");
    await waitFor('the update after the poison record to be applied', async () => (await r.exists('product:2', 'category-page:5')) === 0, 60_000, 100);

    dlqConsumer = kafka.consumer({ groupId: `dlq-reader-${Date.now()}` });
    await dlqConsumer.connect();
    await dlqConsumer.subscribe({ topic: DLQ, fromBeginning: true });
    const letters: Array<{ value: string; headers: Record<string, string> }> = [];
    await dlqConsumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        letters.push({ value: message.value?.toString() ?? '', headers });
      },
    });
    await waitFor('both dead letters', async () => letters.length >= 2, 30_000, 100);
    assert.deepEqual(letters.map((l) => l.headers.partition).sort(), ['0', '1']);
    for (const letter of letters) {
      assert.equal(letter.value, '{"this is": not json', 'the original value is kept');
      assert.equal(letter.headers.topic, TOPIC);
      assert.match(letter.headers.position, /^cdc\.public\.products\/[01]\/\d+$/);
      assert.ok(letter.headers.reason.length > 0, 'the reason is given');
    }
    assert.match(await worker!.metrics(), /cdc_dead_letters_total\{[^}]*source="kafka"[^}]*\} 2/);
  });
});
