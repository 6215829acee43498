import { Client } from 'pg';

/**
 * Server settings that put a slot or the latency budget at risk. Checked once at start;
 * each finding is a sentence an operator can act on.
 */
export async function checkReplicationSettings(connectionString: string): Promise<string[]> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      `SELECT name, setting, unit FROM pg_settings WHERE name IN ('max_slot_wal_keep_size', 'synchronous_commit', 'wal_writer_delay')`,
    );
    const s = new Map(rows.map((r) => [r.name, r]));
    const findings: string[] = [];
    if (s.get('max_slot_wal_keep_size')?.setting === '-1') {
      findings.push(
        'max_slot_wal_keep_size is unlimited (-1): if this worker stops for long, the slot keeps WAL until the disk fills. ' +
          'Set a bound (e.g. 10GB) and alert on cdc_replication_slot_safe_wal_size_bytes; a slot that exceeds it is lost and needs a backfill.',
      );
    }
    const delayMs = Number(s.get('wal_writer_delay')?.setting ?? 0);
    if (s.get('synchronous_commit')?.setting === 'off' && delayMs > 10) {
      findings.push(
        `synchronous_commit is off with wal_writer_delay=${delayMs}ms: committed changes reach the walsender up to ${delayMs} ms late, ` +
          'which adds to every invalidation. Lower wal_writer_delay or commit synchronously on the tables whose caches matter.',
      );
    }
    return findings;
  } finally {
    await client.end();
  }
}

/**
 * Writes a tiny non-transactional logical message. A slot whose published tables are quiet
 * while the rest of the database (or cluster) writes WAL would otherwise pin that WAL: the
 * message gives the stream something to confirm past. The source ignores it (its prefix
 * is not the invalidation prefix).
 */
export async function emitSlotHeartbeat(connectionString: string, prefix = 'cdc-invalidator-heartbeat'): Promise<string> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, $1, now()::text)::text AS lsn`, [prefix]);
    return rows[0].lsn;
  } finally {
    await client.end();
  }
}
