import { KafkaSource } from './kafka-source';
import { KafkaSourceOptions } from './kafka-source-options';

export {
  DEFAULT_HEARTBEAT_TOPIC_PREFIX,
  DEFAULT_MESSAGE_PREFIX,
  DEFAULT_UNAVAILABLE_VALUE,
  DebeziumDecoder,
  DebeziumDecoderOptions,
  DebeziumRecord,
  DecodeResult,
  SkipReason,
  kafkaPosition,
  tableFromTopic,
} from './debezium-decoder';
export { decodeDecimal } from './debezium-values';
export { createKafkaClient } from './kafka-client';
export { KafkaDeadLetterOptions, KafkaDeadLetterSink, PoisonRecord } from './kafka-dead-letter-sink';
export { kafkaMetrics } from './kafka-metrics';
export { KafkaSource } from './kafka-source';
export { KAFKA_SOURCE_CONFIG, KafkaConnectionOptions, KafkaSourceOptions, SaslMechanism, kafkaSourceOptionsFromEnv } from './kafka-source-options';
export { ReplayOptions, ReplayProgress, ReplaySummary, replayKafka } from './replay';

/** The Kafka (Debezium) source; `start()` joins the consumer group. */
export function createKafkaSource(options: KafkaSourceOptions): KafkaSource {
  return new KafkaSource(options);
}
