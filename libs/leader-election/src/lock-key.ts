import { createHash } from 'node:crypto';

/**
 * Advisory locks take one int8 key (or two int4s). Operators think in names, so the
 * elector takes a string and hashes it: the first 8 bytes of its SHA-256, read as a
 * signed big-endian int8. Deterministic across processes, versions and platforms,
 * which is the whole point: every replica must compute the same key.
 */

/** The default lock name for a replication slot: one leader per slot. */
export function defaultLockName(slotName: string): string {
  return `cdc-invalidator:${slotName}`;
}

export interface AdvisoryLockKey {
  /** The name that was hashed. */
  readonly name: string;
  /** The int8 passed to pg_try_advisory_lock, as a decimal string (exact; JS numbers are not). */
  readonly key: string;
  /** How the key shows up in pg_locks (locktype 'advisory', objsubid 1): high and low 32 bits. */
  readonly classid: number;
  readonly objid: number;
}

export function advisoryLockKey(name: string): AdvisoryLockKey {
  const digest = createHash('sha256').update(name, 'utf8').digest();
  const key = digest.readBigInt64BE(0);
  return {
    name,
    key: key.toString(),
    classid: digest.readUInt32BE(0),
    objid: digest.readUInt32BE(4),
  };
}
