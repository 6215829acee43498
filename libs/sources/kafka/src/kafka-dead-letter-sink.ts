import { DeadLetter, DeadLetterSink, TransientError, childLogger, errorMessage, withRetry } from '@cdc/core';
import { Kafka, Partitioners, Producer } from 'kafkajs';
import { createKafkaClient } from './kafka-client';
import { KafkaConnectionOptions } from './kafka-source-options';

const log = childLogger('kafka-dlq');
const MAX_HEADER = 1000;

export interface KafkaDeadLetterOptions extends KafkaConnectionOptions {
  readonly dlqTopic?: string;
  readonly groupId?: string;
  /** Value of the `source` header for poison records. Default `kafka`. */
  readonly name?: string;
}

/** A record that could not be decoded, as it came from Kafka. */
export interface PoisonRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly reason: string;
}

/**
 * Dead-letter topic writer. Poison records from the source keep their original key and
 * value; pipeline dead letters (rule errors) are JSON. Every record carries the headers
 * `reason`, `source`, `topic`, `partition`, `offset` (when known), `position` and `at`.
 * `publish` resolves once the broker acknowledged the records (acks=-1).
 */
export class KafkaDeadLetterSink implements DeadLetterSink {
  private producer?: Producer;
  private connecting?: Promise<Producer>;
  private readonly kafka: Kafka;
  private readonly sourceName: string;
  /** The dead-letter topic: `dlqTopic`, else `<groupId>.dlq`. */
  readonly topic: string;

  /** Connects lazily on the first write; `kafka` lets the source share its client. */
  constructor(options: KafkaDeadLetterOptions, kafka?: Kafka) {
    this.kafka = kafka ?? createKafkaClient(options, '-dlq');
    this.topic = options.dlqTopic ?? `${options.groupId ?? 'cdc-invalidator'}.dlq`;
    this.sourceName = options.name ?? 'kafka';
  }

  /** Writes poison records (used by the Kafka source). */
  async publishRecords(records: readonly PoisonRecord[]): Promise<void> {
    if (records.length === 0) return;
    const at = new Date().toISOString();
    await this.send(
      records.map((r) => ({
        key: r.key,
        value: r.value,
        headers: {
          reason: clip(r.reason),
          source: this.sourceName,
          topic: r.topic,
          partition: String(r.partition),
          offset: r.offset,
          position: `${r.topic}/${r.partition}/${r.offset}`,
          at,
        },
      })),
    );
  }

  /** DeadLetterSink: events the pipeline could not process (e.g. a rule failed on them). */
  async publish(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.send(
      letters.map((l) => {
        const [topic, partition, offset] = splitPosition(l.position);
        return {
          key: l.position,
          value: JSON.stringify({ reason: l.reason, source: l.source, position: l.position, at: l.at, payload: l.payload }),
          headers: {
            reason: clip(l.reason),
            source: l.source,
            position: l.position,
            at: l.at,
            ...(topic !== undefined ? { topic, partition: partition!, offset: offset! } : {}),
          },
        };
      }),
    );
  }

  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.connecting = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  private async send(messages: Array<{ key: Buffer | string | null; value: Buffer | string | null; headers: Record<string, string> }>): Promise<void> {
    await withRetry(
      async () => {
        try {
          const producer = await this.connected();
          await producer.send({ topic: this.topic, acks: -1, messages });
        } catch (err) {
          throw new TransientError(`dead-letter topic ${this.topic}: ${errorMessage(err)}`, err);
        }
      },
      { maxAttempts: 5, initialDelayMs: 200, onRetry: (err, attempt) => log.warn({ attempt, err: errorMessage(err) }, 'dead-letter write failed; retrying') },
    );
  }

  private connected(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    if (!this.connecting) {
      const producer = this.kafka.producer({ allowAutoTopicCreation: true, idempotent: false, createPartitioner: Partitioners.DefaultPartitioner });
      this.connecting = producer.connect().then(
        () => {
          this.producer = producer;
          return producer;
        },
        (err: unknown) => {
          this.connecting = undefined;
          throw err;
        },
      );
    }
    return this.connecting;
  }
}

function clip(text: string): string {
  return text.length > MAX_HEADER ? `${text.slice(0, MAX_HEADER)}…` : text;
}

/** `topic/partition/offset` → its parts; other positions (LSNs) → nothing. */
function splitPosition(position: string): [string?, string?, string?] {
  const m = /^(.+)\/(\d+)\/(\d+)$/.exec(position);
  return m ? [m[1], m[2], m[3]] : [];
}
