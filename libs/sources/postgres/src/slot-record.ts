import { ConfigError, Logger } from '@cdc/core';
import { Client } from 'pg';
import { withClient } from './replication-setup';

/**
 * The worker's own record of the slot it streams, kept outside Postgres (the worker stores
 * it in Redis). A slot that disappears takes its position with it: recreating it silently
 * would resume at the current WAL position and never invalidate what changed in between.
 * The record remembers that this worker streamed the slot on this cluster and database, so a
 * missing slot is told apart from a first start.
 *
 * Why outside Postgres: the cases that lose a slot (a DBA's pg_drop_replication_slot, a
 * failover to a standby that never had the slot, max_slot_wal_keep_size) leave the database
 * otherwise intact, and a record in it would need write access to an application schema. The
 * system identifier tells a new cluster (a restore into a fresh instance, another database)
 * from the same one: a record of another cluster is replaced, not enforced.
 */
export interface SlotRecord {
  readonly slot: string;
  /** pg_control_system().system_identifier; undefined when the role may not read it. */
  readonly systemIdentifier?: string;
  readonly database: string;
  /** Confirmed LSN when the worker first recorded the slot, and when. */
  readonly firstSeenLsn: string;
  readonly firstSeenAt: string;
  /** Last confirmed LSN seen (refreshed with the slot metrics), and when. */
  readonly confirmedLsn: string;
  readonly updatedAt: string;
}

/** Where the record lives: a small interface, the worker implements it on Redis. */
export interface SlotRecordStore {
  /** Human-readable location for messages (e.g. the Redis key). */
  where(slot: string): string;
  read(slot: string): Promise<SlotRecord | undefined>;
  write(record: SlotRecord): Promise<void>;
  remove(slot: string): Promise<void>;
}

/** What the server says about the slot and the cluster. */
export interface SlotFacts {
  readonly systemIdentifier?: string;
  readonly database: string;
  /** undefined when the slot does not exist. */
  readonly confirmedLsn?: string | null;
  readonly exists: boolean;
}

export async function readSlotFacts(client: Client, slot: string): Promise<SlotFacts> {
  const db = await client.query<{ db: string }>('SELECT current_database() AS db');
  let systemIdentifier: string | undefined;
  try {
    const { rows } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    systemIdentifier = rows[0]?.id;
  } catch {
    systemIdentifier = undefined; // EXECUTE revoked: compare the database name only
  }
  const s = await client.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return { systemIdentifier, database: db.rows[0].db, exists: s.rows.length > 0, confirmedLsn: s.rows[0]?.lsn };
}

/** Pure: does the record describe this cluster and database (so a missing slot was lost, not never made)? */
export function recordApplies(record: SlotRecord, facts: SlotFacts): boolean {
  if (record.database !== facts.database) return false;
  return record.systemIdentifier === undefined || facts.systemIdentifier === undefined || record.systemIdentifier === facts.systemIdentifier;
}

export function lostSlotMessage(record: SlotRecord, where: string): string {
  const slot = record.slot;
  return (
    `replication slot "${slot}" is gone, but this worker streamed it before (${where}: database ${record.database}, ` +
    `first seen at ${record.firstSeenLsn} on ${record.firstSeenAt}, last confirmed ${record.confirmedLsn} at ${record.updatedAt}). ` +
    `Changes committed since it was dropped were never seen, so caches may hold stale entries. ` +
    `Recovery: 1) start once with PG_RECREATE_LOST_SLOT=true (the slot is created again at the current WAL position); ` +
    `2) run \`cdc-invalidator backfill postgres --table <schema.table>\` for each table the rules name (or flush the caches). ` +
    `If this is a different database on purpose, delete the record (${where}) instead`
  );
}

/**
 * At start, before the source may create its slot: refuses (ConfigError SLOT_LOST) when the
 * slot is missing and the record says this worker streamed it on this database, unless
 * `recreate` is set; then the old record is dropped and a fresh one is written once the new
 * slot streams.
 */
export async function guardLostSlot(connectionString: string, slot: string, store: SlotRecordStore, recreate: boolean, log: Logger): Promise<void> {
  const record = await store.read(slot);
  if (!record) return;
  const facts = await withClient(connectionString, (client) => readSlotFacts(client, slot));
  if (facts.exists || !recordApplies(record, facts)) return;
  const message = lostSlotMessage(record, store.where(slot));
  if (!recreate) throw new ConfigError(message, 'SLOT_LOST');
  log.error({ slot, lastConfirmedLsn: record.confirmedLsn }, `PG_RECREATE_LOST_SLOT=true: recreating the lost slot; backfill the caches now (changes since ${record.updatedAt} were not invalidated)`);
  await store.remove(slot);
}

/** Writes or refreshes the record from the slot's current state; a no-op while the slot does not exist. */
export async function refreshSlotRecord(connectionString: string, slot: string, store: SlotRecordStore, now: Date = new Date()): Promise<SlotRecord | undefined> {
  const facts = await withClient(connectionString, (client) => readSlotFacts(client, slot));
  if (!facts.exists) return undefined;
  const previous = await store.read(slot);
  const lsn = facts.confirmedLsn ?? '0/0';
  const keep = previous && recordApplies(previous, facts) ? previous : undefined;
  const record: SlotRecord = {
    slot,
    systemIdentifier: facts.systemIdentifier,
    database: facts.database,
    firstSeenLsn: keep?.firstSeenLsn ?? lsn,
    firstSeenAt: keep?.firstSeenAt ?? now.toISOString(),
    confirmedLsn: lsn,
    updatedAt: now.toISOString(),
  };
  await store.write(record);
  return record;
}
