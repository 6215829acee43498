import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ChangeEvent, SourceBatch, metricsRegistry } from '@cdc/core';
import { KafkaSource, KafkaSourceOptions, createKafkaSource } from '@cdc/source-kafka';
import { KafkaServer, PatientReader, waitFor } from '@cdc/testing';
import { committedOffsets, debeziumUpdate, endOffsets, produce, updates } from '../support/debezium-fixtures';

/** The source against a real broker: ack-gated commits, re-delivery, order, dead letters, backpressure. */
describe('KafkaSource against a real broker', () => {
  let kafka: KafkaServer;
  const sources: KafkaSource[] = [];

  before(async () => {
    kafka = await KafkaServer.start();
  });

  after(async () => {
    for (const s of sources) await s.stop().catch(() => undefined);
    await kafka?.destroy();
  });

  function source(overrides: Partial<KafkaSourceOptions> & Pick<KafkaSourceOptions, 'groupId' | 'topics'>): KafkaSource {
    const s = createKafkaSource({ brokers: kafka.brokers, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, stopTimeoutMs: 500, ...overrides });
    sources.push(s);
    return s;
  }

  /** Reads until `count` events arrived; acks each batch unless told not to. */
  async function readEvents(s: KafkaSource, count: number, opts: { ack?: boolean; max?: number } = {}): Promise<{ events: ChangeEvent[]; batches: SourceBatch[] }> {
    const events: ChangeEvent[] = [];
    const batches: SourceBatch[] = [];
    while (events.length < count) {
      const batch = await withTimeout(s.read(opts.max ?? 25), 30_000, `reading event ${events.length + 1} of ${count}`);
      assert.ok(batch, 'source ended early');
      assert.ok(batch.events.length <= (opts.max ?? 25), 'a batch never exceeds maxEvents');
      events.push(...batch.events);
      batches.push(batch);
      if (opts.ack !== false) batch.ack();
    }
    return { events, batches };
  }

  it('hands out each partition in order and commits offsets only after ack; unacked work is re-delivered after a restart', async () => {
    const topic = 'orders-ack';
    await kafka.createTopic(topic, 3);
    await produce(kafka.client(), topic, updates('orders', 60, 10));
    const groupId = 'g-ack';

    const first = source({ groupId, topics: [topic] });
    await first.start();
    const { events } = await readEvents(first, 60);
    assert.equal(events.length, 60);
    assertOrdered(events);
    const ends = await endOffsets(kafka.client(), topic);
    await waitFor('commits to reach the end offsets', async () => sameOffsets(await committedOffsets(kafka.client(), groupId, topic), ends));

    // 12 more updates, handed out but never acked: nothing more may be committed.
    await produce(kafka.client(), topic, updates('orders', 12, 4, 1000));
    const { events: unacked } = await readEvents(first, 12, { ack: false });
    assert.equal(unacked.length, 12);
    await first.stop();
    assert.equal(first.status, 'closed');
    assert.deepEqual(await committedOffsets(kafka.client(), groupId, topic), ends, 'unacked offsets were not committed');

    // A new instance in the same group gets exactly the unacked events again.
    const second = source({ groupId, topics: [topic] });
    await second.start();
    const { events: again } = await readEvents(second, 12);
    assert.deepEqual(again.map((e) => e.position).sort(), unacked.map((e) => e.position).sort());
    const ends2 = await endOffsets(kafka.client(), topic);
    await waitFor('commits after the re-delivered batch', async () => sameOffsets(await committedOffsets(kafka.client(), groupId, topic), ends2));
    await second.stop();
  });

  it('sends a poison record to the dead-letter topic with its headers and goes on with the partition', async () => {
    const topic = 'orders-poison';
    const dlqTopic = 'orders-poison.dlq';
    await kafka.createTopic(topic, 1);
    await produce(kafka.client(), topic, [
      { key: '{"id":1}', value: debeziumUpdate('orders', 1, 1) },
      { key: '{"id":2}', value: '{not json' },
      { key: '{"id":1}', value: debeziumUpdate('orders', 1, 2) },
      { key: '{"id":1}', value: null }, // tombstone: skipped, still committed past
      { key: '{"id":3}', value: JSON.stringify({ id: 3, title: 'no envelope' }) },
      { key: '{"id":1}', value: debeziumUpdate('orders', 1, 3) },
    ]);
    const s = source({ groupId: 'g-poison', topics: [topic], dlqTopic, name: 'kafka-poison-test' });
    await s.start();
    const { events } = await readEvents(s, 3);
    assert.deepEqual(events.map((e) => e.position), [`${topic}/0/0`, `${topic}/0/2`, `${topic}/0/5`]);
    assert.deepEqual(events.map((e) => e.after?.seq), [1, 2, 3]);
    await waitFor('commit past the poison records', async () => (await committedOffsets(kafka.client(), 'g-poison', topic))[`${topic}/0`] === '6');

    const letters = await consumeAll(dlqTopic, 2);
    assert.equal(letters.length, 2);
    const [bad, shape] = letters;
    assert.equal(bad.value, '{not json');
    assert.equal(bad.headers.topic, topic);
    assert.equal(bad.headers.partition, '0');
    assert.equal(bad.headers.offset, '1');
    assert.equal(bad.headers.source, 'kafka-poison-test');
    assert.match(bad.headers.reason, /not JSON/);
    assert.equal(shape.headers.offset, '4');
    assert.match(shape.headers.reason, /no "op"/);

    const counted = (await metricsRegistry.getSingleMetric('cdc_dead_letters_total')!.get()).values.find((v) => v.labels.source === 'kafka-poison-test');
    assert.equal(counted?.value, 2);
    const tombstones = (await metricsRegistry.getSingleMetric('cdc_source_skipped_total')!.get()).values.find(
      (v) => v.labels.source === 'kafka-poison-test' && v.labels.reason === 'tombstone',
    );
    assert.equal(tombstones?.value, 1);
    await s.stop();
  });

  it('respects the buffer bound while nobody reads (input paused), then delivers everything', async () => {
    const topic = 'orders-backpressure';
    await kafka.createTopic(topic, 2);
    const total = 3000;
    await produce(kafka.client(), topic, updates('orders', total, 50));
    const bound = 100;
    const s = source({ groupId: 'g-bp', topics: [topic], maxBufferedEvents: bound, name: 'kafka-bp-test' });
    await s.start();
    await waitFor('the buffer to fill', async () => s.bufferedEvents > 0);
    const paused = async () => (await metricsRegistry.getSingleMetric('cdc_source_paused')!.get()).values.find((v) => v.labels.source === 'kafka-bp-test')?.value;
    await waitFor('the input to pause', async () => (await paused()) === 1);
    // Sample the buffer for a while without reading: it never passes the bound.
    for (let i = 0; i < 20; i++) {
      assert.ok(s.bufferedEvents <= bound, `buffered ${s.bufferedEvents} > ${bound}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seen = new Set<string>();
    while (seen.size < total) {
      const batch = await withTimeout(s.read(40), 30_000, `reading after ${seen.size}`);
      assert.ok(batch);
      assert.ok(s.bufferedEvents <= bound, `buffered ${s.bufferedEvents} > ${bound}`);
      for (const e of batch.events) seen.add(e.position);
      batch.ack();
    }
    assert.equal(seen.size, total);
    const ends = await endOffsets(kafka.client(), topic);
    await waitFor('all offsets committed', async () => sameOffsets(await committedOffsets(kafka.client(), 'g-bp', topic), ends));
    await s.stop();
  });

  it('rides out a broker kill -9 and restart: everything is handed out and committed afterwards', async () => {
    const topic = 'orders-broker-restart';
    await kafka.createTopic(topic, 2);
    await produce(kafka.client(), topic, updates('orders', 200, 20));
    const s = source({ groupId: 'g-restart', topics: [topic] });
    await s.start();
    const seen = new Set<string>();
    const { events } = await readEvents(s, 200);
    for (const e of events) seen.add(e.position);
    await waitFor('first commits', async () => sameOffsets(await committedOffsets(kafka.client(), 'g-restart', topic), await endOffsets(kafka.client(), topic)));

    await kafka.restart(true);
    await produce(kafka.client(), topic, updates('orders', 200, 20, 200));
    const ends = await endOffsets(kafka.client(), topic);
    // The group may be rejoined after the restart: work of the old generation is re-delivered
    // (at-least-once), so keep reading and acking until everything is committed.
    const deadline = Date.now() + 90_000;
    let committed = false;
    const reader = new PatientReader(s);
    while (!committed) {
      assert.ok(Date.now() < deadline, `not everything committed after the restart (${seen.size}/400 seen)`);
      const batch = await reader.next(50, 500);
      if (batch) {
        for (const e of batch.events) seen.add(e.position);
        batch.ack();
      }
      committed = sameOffsets(await committedOffsets(kafka.client(), 'g-restart', topic), ends);
    }
    assert.equal(seen.size, 400);
    assert.equal(s.status, 'streaming');
    await s.stop();
  });

  async function consumeAll(topic: string, count: number): Promise<Array<{ value: string | null; headers: Record<string, string> }>> {
    const consumer = kafka.client().consumer({ groupId: `peek-${topic}-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const out: Array<{ value: string | null; headers: Record<string, string> }> = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        out.push({ value: message.value?.toString() ?? null, headers });
      },
    });
    try {
      await waitFor(`${count} records in ${topic}`, async () => out.length >= count, 30_000);
    } finally {
      await consumer.disconnect();
    }
    return out;
  }
});

/** Per partition, positions increase; per row, seq increases (Debezium partitions by key). */
function assertOrdered(events: readonly ChangeEvent[]): void {
  const lastOffset = new Map<string, bigint>();
  const lastSeq = new Map<unknown, number>();
  for (const e of events) {
    const [topic, partition, offset] = e.position.split('/');
    const key = `${topic}/${partition}`;
    const prev = lastOffset.get(key);
    assert.ok(prev === undefined || BigInt(offset) > prev, `partition ${key} out of order at ${offset}`);
    lastOffset.set(key, BigInt(offset));
    const id = e.after?.id;
    const seq = e.after?.seq as number;
    assert.ok((lastSeq.get(id) ?? -1) < seq, `row ${String(id)} out of order`);
    lastSeq.set(id, seq);
  }
}

function sameOffsets(a: Record<string, string>, b: Record<string, string>): boolean {
  return Object.keys(b).every((k) => a[k] === b[k]);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
