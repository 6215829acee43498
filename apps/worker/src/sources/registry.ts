import { SourcePlugin } from '../pipeline/plugins';
import { kafkaSourcePlugin } from './kafka.plugin';
import { postgresSourcePlugin } from './postgres.plugin';

/** Every source, by the name $SOURCE selects. Adding a source = a plugin file and one line here. */
export const SOURCE_PLUGINS: Readonly<Record<string, SourcePlugin>> = {
  postgres: postgresSourcePlugin,
  kafka: kafkaSourcePlugin,
};
