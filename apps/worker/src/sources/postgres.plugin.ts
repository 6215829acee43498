import { CdcError, ConfigOf, childLogger, errorMessage, extendConfig, field } from '@cdc/core';
import { AdvisoryLockElector } from '@cdc/leader-election';
import { columnDemand } from '@cdc/rules';
import { RedisDeadLetterSink } from '@cdc/sink-redis';
import {
  POSTGRES_SOURCE_CONFIG,
  POSTGRES_SOURCE_DEFAULTS,
  PostgresSource,
  checkReplicationSettings,
  emitSlotHeartbeat,
  guardLostSlot,
  refreshSlotRecord,
  slotStatus,
} from '@cdc/source-postgres';
import { Leadership, SourcePlugin } from '../pipeline/plugins';
import { RedisSlotRecordStore } from './redis-slot-record-store';
import { takeOverSlot } from './slot-takeover';

const log = childLogger('postgres-plugin');

/**
 * Time kept out of SHUTDOWN_TIMEOUT_MS for closing the replication connection after the
 * wait for unacked batches, so the whole stop fits the deadline (the source's own default
 * wait was a fixed 5 s: SIGTERM with SHUTDOWN_TIMEOUT_MS=3000 took ~5 s).
 */
const closeReserveMs = (shutdownMs: number): number => Math.min(1_000, Math.floor(shutdownMs / 4));

/** The Postgres source's variables plus what the worker runs beside it (heartbeats, slot metrics, leader election). */
const POSTGRES_PLUGIN_CONFIG = extendConfig(
  POSTGRES_SOURCE_CONFIG,
  {
    heartbeatIntervalMs: field.integer({
      name: 'PG_HEARTBEAT_INTERVAL_MS',
      description: 'period of a tiny logical message that lets a slot whose tables are quiet confirm past WAL written elsewhere; 0 disables',
      default: 60_000,
      min: 0,
      max: 3_600_000,
    }),
    slotMetricsIntervalMs: field.integer({ name: 'SLOT_METRICS_INTERVAL_MS', description: 'refresh of replication-slot metrics', default: 15_000, min: 1000, max: 3_600_000 }),
    leaderElection: field.oneOf(['none', 'advisory-lock'], {
      name: 'LEADER_ELECTION',
      description: '`advisory-lock`: with 2+ replicas exactly one streams the slot, the others stand by ([docs/ha.md](docs/ha.md))',
      default: 'none',
    }),
  },
  (options, own) => ({ options, ...own, slot: options.slotName ?? POSTGRES_SOURCE_DEFAULTS.slotName }),
);

/** Postgres logical replication: publication tables default to the tables the rules name. */
export const postgresSourcePlugin: SourcePlugin<ConfigOf<typeof POSTGRES_PLUGIN_CONFIG>> = {
  name: 'postgres',
  config: POSTGRES_PLUGIN_CONFIG,
  bootFacts: (config, rules) => ({ publication: config.options.publicationTables ?? rules.tablePatterns() }),
  leadership(config): Leadership | undefined {
    if (config.leaderElection !== 'advisory-lock') return undefined;
    const elector = new AdvisoryLockElector({ connectionString: config.options.connectionString, slotName: config.slot });
    return {
      start: (promote, demote) => elector.start(promote, demote),
      stop: () => elector.stop(),
      async recoverStartFailure(err) {
        // We hold the lock, so the slot's consumer is a former leader whose session is gone
        // but whose walsender has not noticed yet (wal_sender_timeout): end it now.
        if (err instanceof CdcError && err.code === 'SLOT_ACTIVE') await takeOverSlot(config.options.connectionString, config.slot);
      },
    };
  },
  async create(config, ctx) {
    const { options, slot } = config;
    const url = options.connectionString;
    const records = new RedisSlotRecordStore(ctx.redis);
    // Before the source may create the slot: a slot this worker streamed before is not recreated silently.
    await guardLostSlot(url, slot, records, options.recreateLostSlot ?? false, log);
    const deadLetters = new RedisDeadLetterSink({ client: ctx.redis });
    const shutdownMs = ctx.worker.SHUTDOWN_TIMEOUT_MS;
    const source = new PostgresSource({
      ...options,
      publicationTables: options.publicationTables ?? ctx.rules().tablePatterns(),
      explicitPolicy: ctx.explicitPolicy,
      deadLetters,
      stopTimeoutMs: shutdownMs - closeReserveMs(shutdownMs),
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
        const timers = [setInterval(refresh, config.slotMetricsIntervalMs)];
        if (config.heartbeatIntervalMs > 0) {
          timers.push(setInterval(() => void emitSlotHeartbeat(url).catch(warnOnFailure('slot heartbeat')), config.heartbeatIntervalMs));
        }
        for (const t of timers) t.unref();
        return () => timers.forEach((t) => clearInterval(t));
      },
    };
  },
};
