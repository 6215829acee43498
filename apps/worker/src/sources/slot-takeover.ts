import { Client } from 'pg';
import { childLogger } from '@cdc/core';

const log = childLogger('slot-takeover');

/**
 * Ends the walsender still attached to a slot. Only called by the replica that holds the
 * leader lock: the previous leader lost its lock session (it died or was cut off), so the
 * walsender is an orphan that would otherwise block the slot until wal_sender_timeout.
 */
export async function takeOverSlot(connectionString: string, slot: string): Promise<void> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    const res = await client.query<{ pid: number; terminated: boolean }>(
      `SELECT active_pid AS pid, pg_terminate_backend(active_pid) AS terminated
         FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`,
      [slot],
    );
    for (const row of res.rows) log.warn({ slot, pid: row.pid, terminated: row.terminated }, 'terminated the previous leader\'s walsender');
  } finally {
    await client.end();
  }
}
