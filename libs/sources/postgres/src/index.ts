export { PostgresSource } from './postgres-source';
export {
  POSTGRES_SOURCE_CONFIG,
  POSTGRES_SOURCE_DEFAULTS,
  PostgresSourceOptions,
  ResolvedPostgresSourceOptions,
  checkPostgresUrl,
  postgresSourceOptionsFromEnv,
  resolvePostgresSourceOptions,
} from './postgres-source-options';
export { SlotStatus, WalStatus, slotStatus } from './slot-status';
export { RuleColumnForCheck, RuleForCheck, RulesForCheck, checkRulesAgainstDatabase } from './rules-database-check';
export { formatLsn, parseLsn } from './lsn';
export { checkReplicationSettings, emitSlotHeartbeat } from './slot-safety';
export { IdentityGap, findIdentityGaps, identityGapMessage } from './replica-identity';
export { SlotRecord, SlotRecordStore, guardLostSlot, lostSlotMessage, refreshSlotRecord } from './slot-record';
