import { Kafka, KafkaConfig, logLevel } from 'kafkajs';
import { kafkajsLogCreator } from './kafkajs-log';
import { KafkaConnectionOptions } from './kafka-source-options';

const logCreator = kafkajsLogCreator();

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
