import { extendConfig } from '@cdc/core';
import { KAFKA_SOURCE_CONFIG, KafkaSourceOptions, createKafkaSource, KafkaDeadLetterSink } from '@cdc/source-kafka';
import { SourcePlugin } from '../pipeline/plugins';

/** The Kafka source's variables; leader election is the Postgres source's (a consumer group already shares the work). */
const KAFKA_PLUGIN_CONFIG = extendConfig(KAFKA_SOURCE_CONFIG, {}, (options, _own, problems, env): KafkaSourceOptions => {
  const election = env.LEADER_ELECTION?.trim();
  if (election && election.toLowerCase() !== 'none') {
    problems.push(`LEADER_ELECTION=${JSON.stringify(election)}: applies to SOURCE=postgres only (Kafka scales out through its consumer group)`);
  }
  return options;
});

/** Debezium change events from Kafka, consumed in a consumer group. */
export const kafkaSourcePlugin: SourcePlugin<KafkaSourceOptions> = {
  name: 'kafka',
  config: KAFKA_PLUGIN_CONFIG,
  async create(config, ctx) {
    const options = { ...config, explicitPolicy: ctx.explicitPolicy };
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
