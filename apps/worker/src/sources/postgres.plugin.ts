import { childLogger, errorMessage } from '@cdc/core';
import { RedisDeadLetterSink } from '@cdc/sink-redis';
import { PostgresSource, checkReplicationSettings, emitSlotHeartbeat, postgresSourceOptionsFromEnv, slotStatus } from '@cdc/source-postgres';
import { explicitPolicy } from '../config/worker-config';
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
      explicitPolicy: explicitPolicy(ctx.worker),
      deadLetters,
    });
    return {
      source,
      deadLetters,
      background() {
        const slot = options.slotName ?? 'cdc_invalidator';
        const url = options.connectionString;
        const warnOnFailure = (what: string) => (err: unknown) => log.warn({ err: errorMessage(err), slot }, `${what} failed`);
        checkReplicationSettings(url).then((findings) => findings.forEach((f) => log.warn({ slot }, f)), warnOnFailure('replication settings check'));
        void slotStatus(url, slot).catch(warnOnFailure('slot metrics refresh'));
        const timers = [
          setInterval(() => void slotStatus(url, slot).catch(warnOnFailure('slot metrics refresh')), ctx.worker.SLOT_METRICS_INTERVAL_MS),
        ];
        if (ctx.worker.PG_HEARTBEAT_INTERVAL_MS > 0) {
          timers.push(setInterval(() => void emitSlotHeartbeat(url).catch(warnOnFailure('slot heartbeat')), ctx.worker.PG_HEARTBEAT_INTERVAL_MS));
        }
        for (const t of timers) t.unref();
        return () => timers.forEach((t) => clearInterval(t));
      },
    };
  },
};
