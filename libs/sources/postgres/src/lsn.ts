/**
 * Log sequence numbers. Postgres prints them as two hex halves `X/Y` (`0/16B3748`);
 * pg-logical-replication hands some out zero-padded (`00000000/016B3748`). Positions are
 * compared numerically (bigint), never as strings, and formatted the way Postgres prints
 * them so they can be compared by eye with pg_replication_slots.
 */

export type Lsn = bigint;

export const ZERO_LSN: Lsn = 0n;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): Lsn {
  const m = LSN_PATTERN.exec(text.trim());
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Re-prints an LSN in Postgres's canonical form (drops the library's zero padding). */
export function canonicalLsn(text: string): string {
  return formatLsn(parseLsn(text));
}
