import { SourcePlugin } from '../pipeline/plugins';
import { kafkaSourcePlugin } from './kafka.plugin';
import { postgresSourcePlugin } from './postgres.plugin';

/**
 * Every source, by the name $SOURCE selects (the first is the default). Adding a source = a
 * library, a plugin file and one line here: $SOURCE's choices and docs come from this list.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const SOURCE_PLUGINS: readonly SourcePlugin<any>[] = [postgresSourcePlugin, kafkaSourcePlugin];
