import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ChangeEvent } from '@cdc/core';
import { KafkaSource, KafkaSourceOptions, createKafkaSource } from '@cdc/source-kafka';
import { KafkaServer } from '@cdc/testing';
import { debeziumUpdate, produce } from '../support/debezium-fixtures';

/**
 * Topics that do not exist when the source starts (Debezium creates a table's topic at its
 * first change) are consumed once they appear, with a topic list and with a pattern.
 */
describe('KafkaSource picks up topics created after it started (real broker)', () => {
  let kafka: KafkaServer;
  const sources: KafkaSource[] = [];

  before(async () => {
    kafka = await KafkaServer.start();
  });

  after(async () => {
    for (const s of sources) await s.stop().catch(() => undefined);
    await kafka?.destroy();
  });

  async function started(overrides: Partial<KafkaSourceOptions> & Pick<KafkaSourceOptions, 'groupId'>): Promise<KafkaSource> {
    const s = createKafkaSource({ brokers: kafka.brokers, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, stopTimeoutMs: 500, topicRefreshMs: 300, ...overrides });
    sources.push(s);
    await s.start();
    return s;
  }

  /** Reads (and acks) until an event of `table` with `seq` arrives, within 30 s. */
  async function readUntil(s: KafkaSource, table: string, seq: number): Promise<ChangeEvent> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${table} seq ${seq} within 30 s`);
      let timer: NodeJS.Timeout | undefined;
      const batch = await Promise.race([s.read(50), new Promise<null>((r) => (timer = setTimeout(() => r(null), left)))]).finally(() => clearTimeout(timer));
      if (!batch) continue;
      batch.ack();
      const found = batch.events.find((e) => e.table === table && e.after?.seq === seq);
      if (found) return found;
    }
  }

  const one = (table: string, seq: number) => [{ key: '{"id":1}', value: debeziumUpdate(table, 1, seq) }];

  it('KAFKA_TOPICS: a listed topic that appears later is consumed from its first record, and the others go on', async () => {
    await kafka.createTopic('pick.public.a');
    const s = await started({ groupId: 'pick-list', topics: ['pick.public.a', 'pick.public.b'], topicPrefix: 'pick' });
    await produce(kafka.client(), 'pick.public.a', one('a', 1));
    await readUntil(s, 'a', 1);

    await kafka.createTopic('pick.public.b');
    await produce(kafka.client(), 'pick.public.b', one('b', 1));
    const e = await readUntil(s, 'b', 1);
    assert.equal(e.schema, 'public');
    await produce(kafka.client(), 'pick.public.a', one('a', 2));
    await readUntil(s, 'a', 2);
  });

  it('KAFKA_TOPICS: none of the listed topics exists at start', async () => {
    const s = await started({ groupId: 'pick-none', topics: ['pick.public.c'], topicPrefix: 'pick' });
    await kafka.createTopic('pick.public.c');
    await produce(kafka.client(), 'pick.public.c', one('c', 7));
    await readUntil(s, 'c', 7);
  });

  it('KAFKA_TOPIC_PATTERN: a matching topic created later is consumed, also for a group that starts at the latest offsets', async () => {
    await kafka.createTopic('pat.public.x');
    const s = await started({ groupId: 'pick-pattern', topicPattern: /^pat\.public\./, topicPrefix: 'pat', fromBeginning: false });
    await kafka.createTopic('pat.public.y');
    await produce(kafka.client(), 'pat.public.y', one('y', 3));
    await readUntil(s, 'y', 3);
    await produce(kafka.client(), 'pat.public.x', one('x', 4));
    await readUntil(s, 'x', 4);
  });
});
