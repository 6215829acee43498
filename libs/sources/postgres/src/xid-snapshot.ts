/**
 * Transaction visibility from a `pg_current_snapshot()` text (`xmin:xmax:xip,...`, 64-bit
 * xids), for the 32-bit xids pgoutput puts in BEGIN. Pure; see visibility-gate.ts.
 *
 * A 32-bit xid is widened against the snapshot's xmax (the next xid to be assigned when the
 * snapshot was taken): the full xid is the largest value below xmax with the same low 32
 * bits. That is exact for an xid assigned before the snapshot, across epoch boundaries
 * (xmax in epoch N+1, xid from the end of epoch N), because Postgres keeps every xid it still
 * knows within 2^31 of the next one (wraparound protection). An xid assigned *after* the
 * snapshot would wrap to a value ~2^32 too low: those are recognised by their distance
 * (more than 2^31 below xmax) and reported as `newer`, never as visible.
 */

const EPOCH = 1n << 32n;
const HALF = 1n << 31n;

export interface XidSnapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  readonly inProgress: ReadonlySet<bigint>;
}

export type XidVisibility = 'visible' | 'in-progress' | 'newer';

/** Parses `pg_snapshot`/`txid_snapshot` text output. */
export function parseSnapshot(text: string): XidSnapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!m) throw new Error(`unexpected snapshot text ${JSON.stringify(text)}`);
  const inProgress = new Set<bigint>(m[3] === '' ? [] : m[3].split(',').map((x) => BigInt(x)));
  return { xmin: BigInt(m[1]), xmax: BigInt(m[2]), inProgress };
}

/** The 64-bit xid of a 32-bit one assigned before `snapshot` was taken, or undefined when it looks newer. */
export function widenXid(xid32: number, snapshot: XidSnapshot): bigint | undefined {
  if (!Number.isInteger(xid32) || xid32 < 0 || xid32 >= 2 ** 32) throw new RangeError(`not a 32-bit xid: ${xid32}`);
  const distance = (((snapshot.xmax - BigInt(xid32)) % EPOCH) + EPOCH) % EPOCH;
  // 0 would be xmax itself, which was not assigned yet when the snapshot was taken.
  if (distance === 0n || distance > HALF) return undefined;
  return snapshot.xmax - distance;
}

/** What a new snapshot says about a committed transaction: the rules of pg_visible_in_snapshot. */
export function xidVisibility(xid32: number, snapshot: XidSnapshot): XidVisibility {
  const full = widenXid(xid32, snapshot);
  if (full === undefined) return 'newer';
  if (full < snapshot.xmin) return 'visible';
  return snapshot.inProgress.has(full) ? 'in-progress' : 'visible';
}
