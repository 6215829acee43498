import calculateSlot from 'cluster-key-slot';

/**
 * Redis key names the worker and the client library must agree on. Changing one of
 * these is a protocol change: both sides read them from here.
 */

/**
 * Everything the worker and the client keep for themselves in Redis lives under this
 * prefix: tag sets, leases, the dead-letter stream, the CDN outbox, backfill cursors,
 * slot records. Pattern deletes never touch it (the worker skips such keys while it
 * scans), so no rule, logical message or admin call can delete the worker's own state.
 */
export const RESERVED_PREFIX = 'cdc:';

/** A tag T is the Redis SET `${DEFAULT_TAG_PREFIX}${T}` holding the keys that carry it. */
export const DEFAULT_TAG_PREFIX = 'cdc:tag:';

/** Prefix of lease keys (see leaseKeyOf). */
export const LEASE_PREFIX = 'cdc:lease:';

export function tagSetKey(tag: string, tagPrefix: string = DEFAULT_TAG_PREFIX): string {
  return tagPrefix + tag;
}

export function isReservedKey(key: string): boolean {
  return key.startsWith(RESERVED_PREFIX);
}

/**
 * The lease key of a cache key, always in the key's Redis Cluster slot, so that the
 * client's fill script and the worker's `UNLINK key lease(key)` each touch one slot.
 *
 * - A key with a hash tag (`user:{7}:profile`): the prefix keeps the tag first, so
 *   `cdc:lease:user:{7}:profile` hashes like the key.
 * - A key without braces (`product:42`): the whole key becomes the tag,
 *   `cdc:lease:{product:42}`.
 * - The empty key, or a key with a stray `}` and no hash tag (rare): a short tag chosen to hash to the
 *   key's slot, `cdc:lease:{s<n>}<key>`.
 */
export function leaseKeyOf(key: string): string {
  const affixes = leaseAffixesOf(key);
  if (affixes) return affixes.prefix + key + affixes.suffix;
  return `${LEASE_PREFIX}{${slotTag(calculateSlot(key))}}${key}`;
}

/** A lease key is `prefix + key + suffix` for every key but the rare ones of leaseKeyOf's last case. */
export interface LeaseAffixes {
  readonly prefix: string;
  readonly suffix: string;
}

const HASH_TAGGED: LeaseAffixes = { prefix: LEASE_PREFIX, suffix: '' };
const WHOLE_KEY_TAG: LeaseAffixes = { prefix: `${LEASE_PREFIX}{`, suffix: '}' };

/**
 * The affixes that make the key's lease (leaseKeyOf's first two cases), or undefined for the
 * empty key and a key with a `}` but no hash tag. One of two shared objects, so a caller can
 * group keys by identity: the worker sends each group to UNLINK_WITH_LEASES with its affixes
 * and Redis builds the lease keys.
 */
export function leaseAffixesOf(key: string): LeaseAffixes | undefined {
  if (key.length === 0) return undefined;
  // No `}` means no hash tag: the whole key becomes the tag.
  if (!key.includes('}')) return WHOLE_KEY_TAG;
  return hashTagOf(key) !== undefined ? HASH_TAGGED : undefined;
}

/** The hash tag Redis Cluster hashes instead of the whole key, if any. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return undefined;
  return key.slice(open + 1, close);
}

let slotTags: string[] | undefined;

/** A short string that hashes to the slot; the table is built once (about 160k CRC16s, a few ms). */
function slotTag(slot: number): string {
  if (!slotTags) {
    const table = new Array<string>(16384);
    let found = 0;
    for (let i = 0; found < 16384; i++) {
      const tag = `s${i.toString(36)}`;
      const s = calculateSlot(tag);
      if (table[s] === undefined) {
        table[s] = tag;
        found++;
      }
    }
    slotTags = table;
  }
  return slotTags[slot];
}
