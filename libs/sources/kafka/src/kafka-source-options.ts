import { ConfigError } from '@cdc/core';
import { DebeziumDecoderOptions } from './debezium-decoder';

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

const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

/**
 * Reads the Kafka source's configuration from the environment. Every bad or missing
 * variable is reported at once in one ConfigError. Values of secrets are never echoed.
 *
 * KAFKA_BROKERS (required, comma-separated), KAFKA_GROUP_ID (default cdc-invalidator),
 * KAFKA_TOPICS (comma-separated) or KAFKA_TOPIC_PATTERN (a regular expression), KAFKA_TOPIC_PREFIX,
 * KAFKA_TABLE_MAP (`topic=schema.table,...` or a JSON object), KAFKA_DLQ_TOPIC, KAFKA_FLATTENED
 * (true/false), KAFKA_UNAVAILABLE_VALUE, KAFKA_HEARTBEAT_TOPIC_PREFIX, KAFKA_MESSAGE_PREFIX,
 * KAFKA_MAX_BUFFERED_EVENTS, KAFKA_SESSION_TIMEOUT_MS, KAFKA_TOPIC_REFRESH_MS, KAFKA_FROM_BEGINNING, KAFKA_CLIENT_ID,
 * KAFKA_SSL (true/false), KAFKA_SSL_CA (PEM text), KAFKA_SSL_REJECT_UNAUTHORIZED (default true),
 * KAFKA_SASL_MECHANISM (plain | scram-sha-256 | scram-sha-512), KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD.
 */
export function kafkaSourceOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): KafkaSourceOptions {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (/^(true|1|yes|on)$/i.test(v)) return true;
    if (/^(false|0|no|off)$/i.test(v)) return false;
    problems.push(`${name} must be true or false (got "${v}")`);
    return fallback;
  };
  const int = (name: string, fallback: number, min: number): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${name} must be an integer >= ${min} (got "${v}")`);
      return fallback;
    }
    return n;
  };
  const list = (name: string): string[] | undefined =>
    get(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  const brokers = list('KAFKA_BROKERS') ?? [];
  if (brokers.length === 0) problems.push('KAFKA_BROKERS is required (comma-separated host:port list)');
  for (const b of brokers) if (!/^[^\s:/]+:\d{1,5}$/.test(b)) problems.push(`KAFKA_BROKERS entry "${b}" is not host:port`);

  const topics = list('KAFKA_TOPICS');
  const patternText = get('KAFKA_TOPIC_PATTERN');
  let topicPattern: RegExp | undefined;
  if (patternText !== undefined) {
    try {
      topicPattern = new RegExp(patternText);
    } catch (err) {
      problems.push(`KAFKA_TOPIC_PATTERN is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  if (topics && patternText) problems.push('set KAFKA_TOPICS or KAFKA_TOPIC_PATTERN, not both');
  if (!topics && !patternText) problems.push('KAFKA_TOPICS or KAFKA_TOPIC_PATTERN is required');

  const tableMap = parseTableMap(get('KAFKA_TABLE_MAP'), problems);

  const mechanismText = get('KAFKA_SASL_MECHANISM')?.toLowerCase();
  let sasl: KafkaSourceOptions['sasl'];
  if (mechanismText !== undefined) {
    const username = get('KAFKA_SASL_USERNAME');
    const password = env.KAFKA_SASL_PASSWORD;
    if (!SASL_MECHANISMS.includes(mechanismText as SaslMechanism)) {
      problems.push(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')} (got "${mechanismText}")`);
    }
    if (!username) problems.push('KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM');
    if (!password) problems.push('KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM');
    if (username && password) sasl = { mechanism: mechanismText as SaslMechanism, username, password };
  } else if (get('KAFKA_SASL_USERNAME') || get('KAFKA_SASL_PASSWORD')) {
    problems.push('KAFKA_SASL_MECHANISM is required with KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD');
  }

  const sslOn = bool('KAFKA_SSL', false);
  const ca = env.KAFKA_SSL_CA?.trim() || undefined;
  const rejectUnauthorized = bool('KAFKA_SSL_REJECT_UNAUTHORIZED', true);
  if (ca && !ca.includes('-----BEGIN')) problems.push('KAFKA_SSL_CA must be PEM text (-----BEGIN CERTIFICATE-----...)');
  const ssl = sslOn ? (ca || !rejectUnauthorized ? { ...(ca ? { ca } : {}), rejectUnauthorized } : true) : undefined;
  if (!sslOn && ca) problems.push('KAFKA_SSL_CA is set but KAFKA_SSL is not true');

  const groupId = get('KAFKA_GROUP_ID') ?? 'cdc-invalidator';
  const options: KafkaSourceOptions = {
    brokers,
    groupId,
    clientId: get('KAFKA_CLIENT_ID') ?? 'cdc-invalidator',
    ...(topics ? { topics } : {}),
    ...(topicPattern ? { topicPattern } : {}),
    ...(get('KAFKA_TOPIC_PREFIX') ? { topicPrefix: get('KAFKA_TOPIC_PREFIX') } : {}),
    ...(tableMap ? { tableMap } : {}),
    dlqTopic: get('KAFKA_DLQ_TOPIC') ?? `${groupId}.dlq`,
    flattened: bool('KAFKA_FLATTENED', false),
    ...(get('KAFKA_UNAVAILABLE_VALUE') ? { unavailableValue: get('KAFKA_UNAVAILABLE_VALUE') } : {}),
    ...(get('KAFKA_HEARTBEAT_TOPIC_PREFIX') ? { heartbeatTopicPrefix: get('KAFKA_HEARTBEAT_TOPIC_PREFIX') } : {}),
    ...(get('KAFKA_MESSAGE_PREFIX') ? { messagePrefix: get('KAFKA_MESSAGE_PREFIX') } : {}),
    maxBufferedEvents: int('KAFKA_MAX_BUFFERED_EVENTS', 10_000, 1),
    sessionTimeoutMs: int('KAFKA_SESSION_TIMEOUT_MS', 30_000, 1000),
    topicRefreshMs: int('KAFKA_TOPIC_REFRESH_MS', 10_000, 100),
    fromBeginning: bool('KAFKA_FROM_BEGINNING', true),
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
  };
  if (problems.length > 0) {
    throw new ConfigError(`invalid Kafka configuration:\n  - ${problems.join('\n  - ')}`, 'KAFKA_CONFIG_INVALID');
  }
  return options;
}

/** `topic=schema.table,topic2=schema.table2` or a JSON object of the same. */
function parseTableMap(text: string | undefined, problems: string[]): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const map: Record<string, string> = {};
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        if (typeof v !== 'string' || !/^[^.]+\.[^.]+$/.test(v)) problems.push(`KAFKA_TABLE_MAP: "${k}" must map to "schema.table"`);
        else map[k] = v;
      }
    } catch (err) {
      problems.push(`KAFKA_TABLE_MAP is not valid JSON: ${(err as Error).message}`);
    }
    return map;
  }
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.lastIndexOf('=');
    const topic = entry.slice(0, eq).trim();
    const table = entry.slice(eq + 1).trim();
    if (eq <= 0 || !/^[^.]+\.[^.]+$/.test(table)) problems.push(`KAFKA_TABLE_MAP entry "${entry}" is not topic=schema.table`);
    else map[topic] = table;
  }
  return map;
}
