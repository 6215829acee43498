import { Kafka, Partitioners } from 'kafkajs';

/** A Debezium envelope (no embedded schema) for an update of `table` row `id`, carrying `seq`. */
export function debeziumUpdate(table: string, id: number, seq: number, tsMs = 1_700_000_000_000 + seq): string {
  return JSON.stringify({
    before: { id, seq: seq - 1 },
    after: { id, seq },
    source: { version: '3.4.3.Final', connector: 'postgresql', name: 'shop', ts_ms: tsMs, schema: 'public', table, txId: 1000 + seq, lsn: 1_000_000 + seq },
    op: 'u',
    ts_ms: tsMs,
  });
}

export interface FixtureMessage {
  key: string | null;
  value: string | null;
  timestamp?: string;
}

/** Produces messages (acks=all); keyed messages land on the partition of their key. */
export async function produce(kafka: Kafka, topic: string, messages: readonly FixtureMessage[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500).map((m) => ({ ...m })) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** `count` updates spread over `rows` row ids, seq increasing per row: message i updates row i % rows. */
export function updates(table: string, count: number, rows: number, firstSeq = 0): FixtureMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const id = i % rows;
    return { key: JSON.stringify({ id }), value: debeziumUpdate(table, id, firstSeq + i) };
  });
}

/** Committed offsets of a group, `topic/partition` → offset ('-1' when none). */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(t.partitions.map((p) => [`${topic}/${p.partition}`, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** High watermarks, `topic/partition` → offset. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [`${topic}/${p.partition}`, p.high]));
  } finally {
    await admin.disconnect();
  }
}
