import { childLogger } from '@cdc/core';
import { Kafka, KafkaConfig, logLevel, LogEntry } from 'kafkajs';
import { KafkaConnectionOptions } from './kafka-source-options';

const log = childLogger('kafkajs');

/** kafkajs logs go through our JSON logger; its info chatter (pause/resume, joins) goes to debug. */
function logCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, timestamp: _t, logger: _l, ...rest } = entry;
    const fields = { kafkajs: entry.logger, ...rest };
    if (level === logLevel.ERROR) log.error(fields, message);
    else if (level === logLevel.WARN) log.warn(fields, message);
    else log.debug(fields, message);
  };
}

/** A kafkajs client for the given brokers, with TLS/SASL as configured. */
export function createKafkaClient(options: KafkaConnectionOptions, clientIdSuffix = ''): Kafka {
  const config: KafkaConfig = {
    brokers: [...options.brokers],
    clientId: `${options.clientId ?? 'cdc-invalidator'}${clientIdSuffix}`,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    logLevel: logLevel.INFO,
    logCreator,
    // kafkajs retries requests itself; keep it short so a dead broker surfaces as a status change.
    retry: { initialRetryTime: 100, maxRetryTime: 5000, retries: 8 },
  };
  if (options.ssl) config.ssl = options.ssl === true ? true : { ...options.ssl };
  if (options.sasl) {
    const { mechanism, username, password } = options.sasl;
    config.sasl =
      mechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return new Kafka(config);
}
