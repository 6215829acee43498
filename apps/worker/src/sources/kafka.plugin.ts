import { createKafkaSource, KafkaDeadLetterSink, kafkaSourceOptionsFromEnv } from '@cdc/source-kafka';
import { explicitPolicy } from '../config/worker-config';
import { SourcePlugin } from '../pipeline/plugins';

/** Debezium change events from Kafka, consumed in a consumer group. */
export const kafkaSourcePlugin: SourcePlugin = {
  name: 'kafka',
  validateEnv(env) {
    kafkaSourceOptionsFromEnv(env);
  },
  async create(ctx) {
    const options = { ...kafkaSourceOptionsFromEnv(ctx.env), explicitPolicy: explicitPolicy(ctx.worker) };
    const source = createKafkaSource(options);
    const deadLetters = new KafkaDeadLetterSink(options);
    return {
      source,
      deadLetters,
      background() {
        // The dead-letter producer outlives the pipeline's last batch; disconnect it on shutdown.
        return () => deadLetters.stop();
      },
    };
  },
};
