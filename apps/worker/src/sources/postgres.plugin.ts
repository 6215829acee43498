import { childLogger, errorMessage } from '@cdc/core';
import { columnDemand } from '@cdc/rules';
import { RedisDeadLetterSink } from '@cdc/sink-redis';
import {
  PostgresSource,
  checkReplicationSettings,
  emitSlotHeartbeat,
  guardLostSlot,
  postgresSourceOptionsFromEnv,
  refreshSlotRecord,
  slotStatus,
} from '@cdc/source-postgres';
import { explicitPolicy } from '../config/worker-config';
import { SourcePlugin } from '../pipeline/plugins';
import { RedisSlotRecordStore } from './redis-slot-record-store';

const log = childLogger('postgres-plugin');

/**
 * Time kept out of SHUTDOWN_TIMEOUT_MS for closing the replication connection after the
 * wait for unacked batches, so the whole stop fits the deadline (the source's own default
 * wait was a fixed 5 s: SIGTERM with SHUTDOWN_TIMEOUT_MS=3000 took ~5 s).
 */
const closeReserveMs = (shutdownMs: number): number => Math.min(1_000, Math.floor(shutdownMs / 4));

/** Postgres logical replication: publication tables default to the tables the rules name. */
export const postgresSourcePlugin: SourcePlugin = {
  name: 'postgres',
  validateEnv(env) {
    postgresSourceOptionsFromEnv(env);
  },
  async create(ctx) {
    const options = postgresSourceOptionsFromEnv(ctx.env);
    const slot = options.slotName ?? 'cdc_invalidator';
    const url = options.connectionString;
    const records = new RedisSlotRecordStore(ctx.redis);
    // Before the source may create the slot: a slot this worker streamed before is not recreated silently.
    await guardLostSlot(url, slot, records, options.recreateLostSlot ?? false, log);
    const deadLetters = new RedisDeadLetterSink({ client: ctx.redis });
    const source = new PostgresSource({
      ...options,
      publicationTables: options.publicationTables ?? ctx.rules().tablePatterns(),
      explicitPolicy: explicitPolicy(ctx.worker),
      deadLetters,
      stopTimeoutMs: ctx.worker.SHUTDOWN_TIMEOUT_MS - closeReserveMs(ctx.worker.SHUTDOWN_TIMEOUT_MS),
      // Decode only what the current rules read; a reload changes it (the source re-streams if needed).
      columns: () => columnDemand(ctx.rules()),
    });
    return {
      source,
      deadLetters,
      background() {
        const warnOnFailure = (what: string) => (err: unknown) => log.warn({ err: errorMessage(err), slot }, `${what} failed`);
        checkReplicationSettings(url).then((findings) => findings.forEach((f) => log.warn({ slot }, f)), warnOnFailure('replication settings check'));
        const refresh = (): void => {
          void slotStatus(url, slot).catch(warnOnFailure('slot metrics refresh'));
          void refreshSlotRecord(url, slot, records).catch(warnOnFailure('slot record refresh'));
        };
        refresh();
        const timers = [setInterval(refresh, ctx.worker.SLOT_METRICS_INTERVAL_MS)];
        if (ctx.worker.PG_HEARTBEAT_INTERVAL_MS > 0) {
          timers.push(setInterval(() => void emitSlotHeartbeat(url).catch(warnOnFailure('slot heartbeat')), ctx.worker.PG_HEARTBEAT_INTERVAL_MS));
        }
        for (const t of timers) t.unref();
        return () => timers.forEach((t) => clearInterval(t));
      },
    };
  },
};
