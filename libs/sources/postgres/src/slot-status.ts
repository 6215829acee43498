import { withClient } from './replication-setup';
import { slotMetrics } from './source-metrics';

export type WalStatus = 'reserved' | 'extended' | 'unreserved' | 'lost';

export interface SlotStatus {
  /** Where streaming resumes after a restart, `X/Y`; null before the slot is consistent. */
  readonly confirmedFlushLsn: string | null;
  /** Bytes of WAL written since confirmed_flush_lsn (the WAL the slot holds back); null when unknown. */
  readonly lagBytes: number | null;
  /** null on servers that do not report it. */
  readonly walStatus: WalStatus | null;
  /** Bytes that can still be written before the slot is lost; null when max_slot_wal_keep_size is unlimited. */
  readonly safeWalSize: number | null;
  readonly active: boolean;
  readonly activePid: number | null;
}

const WAL_STATUSES: readonly WalStatus[] = ['reserved', 'extended', 'unreserved', 'lost'];

/**
 * Reads the slot's state and updates the slot gauges (cdc_replication_slot_*). Meant to
 * be called periodically by the app (e.g. every 15 s); opens a short connection each time.
 * Resolves undefined when the slot does not exist.
 */
export async function slotStatus(connectionString: string, slotName: string): Promise<SlotStatus | undefined> {
  const row = await withClient(connectionString, async (client) => {
    const { rows } = await client.query<{
      confirmed_flush_lsn: string | null;
      lag: string | null;
      wal_status: string | null;
      safe_wal_size: string | null;
      active: boolean;
      active_pid: number | null;
    }>(
      `SELECT confirmed_flush_lsn::text,
              CASE WHEN pg_is_in_recovery() OR confirmed_flush_lsn IS NULL THEN NULL
                   ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text END AS lag,
              wal_status, safe_wal_size::text, active, active_pid
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slotName],
    );
    return rows[0];
  });
  if (!row) return undefined;
  const status: SlotStatus = {
    confirmedFlushLsn: row.confirmed_flush_lsn,
    lagBytes: row.lag === null ? null : Number(row.lag),
    walStatus: WAL_STATUSES.includes(row.wal_status as WalStatus) ? (row.wal_status as WalStatus) : null,
    safeWalSize: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
    active: row.active,
    activePid: row.active_pid,
  };
  if (status.lagBytes !== null) slotMetrics.lagBytes.set({ slot: slotName }, status.lagBytes);
  for (const s of WAL_STATUSES) slotMetrics.walStatus.set({ slot: slotName, status: s }, s === status.walStatus ? 1 : 0);
  slotMetrics.safeWalSize.set({ slot: slotName }, status.safeWalSize ?? -1);
  slotMetrics.active.set({ slot: slotName }, status.active ? 1 : 0);
  return status;
}
