import { childLogger, errorMessage } from '@cdc/core';
import { RedisDeadLetterSink } from '@cdc/sink-redis';
import { PostgresSource, postgresSourceOptionsFromEnv, slotStatus } from '@cdc/source-postgres';
import { SourcePlugin } from '../pipeline/plugins';

const log = childLogger('postgres-plugin');

/** Postgres logical replication: publication tables default to the tables the rules name. */
export const postgresSourcePlugin: SourcePlugin = {
  name: 'postgres',
  validateEnv(env) {
    postgresSourceOptionsFromEnv(env);
  },
  async create(ctx) {
    const options = postgresSourceOptionsFromEnv(ctx.env);
    const deadLetters = new RedisDeadLetterSink({ client: ctx.redis });
    const source = new PostgresSource({
      ...options,
      publicationTables: options.publicationTables ?? ctx.rules().tablePatterns(),
      deadLetters,
    });
    return {
      source,
      deadLetters,
      background() {
        const slot = options.slotName ?? 'cdc_invalidator';
        const timer = setInterval(() => {
          slotStatus(options.connectionString, slot).catch((err: unknown) => log.warn({ err: errorMessage(err), slot }, 'slot metrics refresh failed'));
        }, ctx.worker.SLOT_METRICS_INTERVAL_MS);
        timer.unref();
        return () => clearInterval(timer);
      },
    };
  },
};
