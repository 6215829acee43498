import { ConfigSpec, DEFAULT_MESSAGE_PREFIX, Env, FieldError, defineConfig, field, parseConfig } from '@cdc/core';
import { DEFAULT_HEARTBEAT_TOPIC_PREFIX, DEFAULT_UNAVAILABLE_VALUE, DebeziumDecoderOptions } from './debezium-decoder';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** How to reach the brokers (shared by the source, the dead-letter sink and replay). */
export interface KafkaConnectionOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** kafkajs clientId. Default `cdc-invalidator`. */
  readonly clientId?: string;
  /** TLS to the brokers. Default false. `ca` is PEM text. */
  readonly ssl?: boolean | { readonly ca?: string; readonly rejectUnauthorized?: boolean };
  /** SASL authentication; the password never reaches a log line. */
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  /** Connection timeout in ms. Default 3000. */
  readonly connectionTimeoutMs?: number;
}

export interface KafkaSourceOptions extends KafkaConnectionOptions, DebeziumDecoderOptions {
  /** Consumer group of the live service. */
  readonly groupId: string;
  /**
   * Topics to consume; or `topicPattern`. Both are matched against the topics that exist,
   * again every `topicRefreshMs`: a listed or matching topic created later is subscribed to
   * then (the consumer restarts to do it).
   */
  readonly topics?: readonly string[];
  readonly topicPattern?: RegExp;
  /** How often the topic list is checked for new topics to subscribe to, in ms. Default 10000. */
  readonly topicRefreshMs?: number;
  /** Where a new group starts: true = earliest (default), false = latest. */
  readonly fromBeginning?: boolean;
  /** Dead-letter topic for poison records. Default `<groupId>.dlq`. */
  readonly dlqTopic?: string;
  /** Events decoded but not yet read by the pipeline, at most. Input pauses at this bound. Default 10000. */
  readonly maxBufferedEvents?: number;
  /** Consumer session timeout in ms (a dead member's partitions move after this). Default 30000. */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat interval in ms. Default 3000. */
  readonly heartbeatIntervalMs?: number;
  /** Partitions processed at once by the kafkajs runner. Default 4. */
  readonly partitionsConsumedConcurrently?: number;
  /** Fetch size per partition in bytes. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** How long `stop` waits for handed-out batches to be acked before leaving the group. Default 10000. */
  readonly stopTimeoutMs?: number;
  /** Name in metrics, logs and dead letters. Default `kafka`. */
  readonly name?: string;
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const satisfies readonly SaslMechanism[];
const DEFAULT_GROUP_ID = 'cdc-invalidator';

const tableName = (v: string): string => {
  if (!/^[^.]+\.[^.]+$/.test(v)) throw new FieldError('must map to "schema.table"');
  return v;
};

/** `topic=schema.table,topic2=schema.table2` or a JSON object of the same. */
function parseTableMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  const bad: string[] = [];
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new FieldError(`is not valid JSON: ${(err as Error).message}`);
    }
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof v !== 'string' || !/^[^.]+\.[^.]+$/.test(v)) bad.push(`"${k}" must map to "schema.table"`);
      else map[k] = v;
    }
  } else {
    for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = entry.lastIndexOf('=');
      const topic = entry.slice(0, eq).trim();
      const table = entry.slice(eq + 1).trim();
      if (eq <= 0 || !/^[^.]+\.[^.]+$/.test(table)) bad.push(`entry "${entry}" is not topic=schema.table`);
      else map[topic] = tableName(table);
    }
  }
  if (bad.length) throw new FieldError(bad.join('; '));
  return map;
}

/** The variables the Kafka source reads, declared once (docs/kafka.md's table is checked against them). */
export const KAFKA_SOURCE_FIELDS = {
  brokers: field.list({
    name: 'KAFKA_BROKERS',
    what: 'list of host:port',
    description: '`host:port,host:port`',
    required: true,
    item: (b) => {
      field.parseHostPort(b);
      return b;
    },
  }),
  groupId: field.text({ name: 'KAFKA_GROUP_ID', description: 'consumer group of the live service', default: DEFAULT_GROUP_ID }),
  topics: field.list({ name: 'KAFKA_TOPICS', description: 'topics to consume (or `KAFKA_TOPIC_PATTERN`)' }),
  topicPattern: field.custom({
    name: 'KAFKA_TOPIC_PATTERN',
    type: 'regular expression',
    description: 'a regular expression matched against the topics that exist (or `KAFKA_TOPICS`)',
    parse: (v) => {
      try {
        return new RegExp(v);
      } catch (err) {
        throw new FieldError(`is not a valid regular expression: ${(err as Error).message}`);
      }
    },
  }),
  topicRefreshMs: field.integer({ name: 'KAFKA_TOPIC_REFRESH_MS', description: 'how often the topic list is checked for new topics', default: 10_000, min: 100 }),
  topicPrefix: field.text({ name: 'KAFKA_TOPIC_PREFIX', description: 'Debezium `topic.prefix`' }),
  tableMap: field.custom({ name: 'KAFKA_TABLE_MAP', type: 'topic=schema.table list or JSON object', description: 'topics that do not follow Debezium naming', parse: parseTableMap }),
  dlqTopic: field.text({ name: 'KAFKA_DLQ_TOPIC', description: 'dead-letter topic', defaultDoc: '`<group>.dlq`' }),
  flattened: field.boolean({ name: 'KAFKA_FLATTENED', description: 'records were flattened by the ExtractNewRecordState SMT', default: false }),
  unavailableValue: field.text({ name: 'KAFKA_UNAVAILABLE_VALUE', description: 'Debezium `unavailable.value.placeholder`', defaultDoc: `\`${DEFAULT_UNAVAILABLE_VALUE}\`` }),
  heartbeatTopicPrefix: field.text({ name: 'KAFKA_HEARTBEAT_TOPIC_PREFIX', description: 'records on these topics are skipped and counted', defaultDoc: `\`${DEFAULT_HEARTBEAT_TOPIC_PREFIX}\`` }),
  messagePrefix: field.text({ name: 'KAFKA_MESSAGE_PREFIX', description: 'logical-message prefix that carries explicit invalidations', defaultDoc: `\`${DEFAULT_MESSAGE_PREFIX}\`` }),
  maxBufferedEvents: field.integer({ name: 'KAFKA_MAX_BUFFERED_EVENTS', description: 'buffer bound (backpressure)', default: 10_000, min: 1 }),
  sessionTimeoutMs: field.integer({ name: 'KAFKA_SESSION_TIMEOUT_MS', description: "how long before a dead member's partitions move", default: 30_000, min: 1000 }),
  fromBeginning: field.boolean({ name: 'KAFKA_FROM_BEGINNING', description: 'where a new group starts', default: true }),
  clientId: field.text({ name: 'KAFKA_CLIENT_ID', description: 'kafkajs clientId', default: 'cdc-invalidator' }),
  ssl: field.boolean({ name: 'KAFKA_SSL', description: 'TLS to the brokers', default: false }),
  sslCa: field.text({ name: 'KAFKA_SSL_CA', description: 'CA certificate, PEM text', pattern: /-----BEGIN/, what: 'PEM text (-----BEGIN CERTIFICATE-----...)' }),
  sslRejectUnauthorized: field.boolean({ name: 'KAFKA_SSL_REJECT_UNAUTHORIZED', description: 'verify the brokers\' certificates', default: true }),
  saslMechanism: field.oneOf(SASL_MECHANISMS, { name: 'KAFKA_SASL_MECHANISM', description: 'SASL authentication' }),
  saslUsername: field.text({ name: 'KAFKA_SASL_USERNAME', description: 'SASL user' }),
  saslPassword: field.text({ name: 'KAFKA_SASL_PASSWORD', description: 'SASL password', secret: true, raw: true }),
};

/**
 * The Kafka source's configuration from the environment. Every bad or missing variable is
 * reported at once; values of secrets are never echoed.
 */
export const KAFKA_SOURCE_CONFIG: ConfigSpec<KafkaSourceOptions> = defineConfig('Kafka source', KAFKA_SOURCE_FIELDS, (v, problems, env) => {
  const set = (name: string): boolean => (env[name] ?? '') !== '';
  if (set('KAFKA_TOPICS') && set('KAFKA_TOPIC_PATTERN')) problems.push('KAFKA_TOPICS, KAFKA_TOPIC_PATTERN: set one, not both');
  if (!set('KAFKA_TOPICS') && !set('KAFKA_TOPIC_PATTERN')) problems.push('KAFKA_TOPICS or KAFKA_TOPIC_PATTERN: required');

  let sasl: KafkaSourceOptions['sasl'];
  if (set('KAFKA_SASL_MECHANISM')) {
    if (!v.saslUsername) problems.push('KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM');
    if (!v.saslPassword) problems.push('KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM');
    if (v.saslMechanism && v.saslUsername && v.saslPassword) sasl = { mechanism: v.saslMechanism, username: v.saslUsername, password: v.saslPassword };
  } else if (set('KAFKA_SASL_USERNAME') || set('KAFKA_SASL_PASSWORD')) {
    problems.push('KAFKA_SASL_MECHANISM: required with KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD');
  }

  const ca = v.sslCa;
  if (!v.ssl && ca) problems.push('KAFKA_SSL_CA: set but KAFKA_SSL is not true');
  const ssl = v.ssl ? (ca || !v.sslRejectUnauthorized ? { ...(ca ? { ca } : {}), rejectUnauthorized: v.sslRejectUnauthorized } : true) : undefined;

  return {
    brokers: v.brokers ?? [],
    groupId: v.groupId,
    clientId: v.clientId,
    ...(v.topics ? { topics: v.topics } : {}),
    ...(v.topicPattern ? { topicPattern: v.topicPattern } : {}),
    ...(v.topicPrefix ? { topicPrefix: v.topicPrefix } : {}),
    ...(v.tableMap ? { tableMap: v.tableMap } : {}),
    dlqTopic: v.dlqTopic ?? `${v.groupId}.dlq`,
    flattened: v.flattened,
    ...(v.unavailableValue ? { unavailableValue: v.unavailableValue } : {}),
    ...(v.heartbeatTopicPrefix ? { heartbeatTopicPrefix: v.heartbeatTopicPrefix } : {}),
    ...(v.messagePrefix ? { messagePrefix: v.messagePrefix } : {}),
    maxBufferedEvents: v.maxBufferedEvents,
    sessionTimeoutMs: v.sessionTimeoutMs,
    topicRefreshMs: v.topicRefreshMs,
    fromBeginning: v.fromBeginning,
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
  };
});

/** Reads the Kafka source's configuration from the environment; one ConfigError names every bad variable. */
export function kafkaSourceOptionsFromEnv(env: Env = process.env): KafkaSourceOptions {
  return parseConfig(KAFKA_SOURCE_CONFIG, env);
}
