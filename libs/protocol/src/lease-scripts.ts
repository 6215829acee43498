/**
 * The lease protocol (docs/client.md#the-protocol): the marker format, the client's Lua
 * scripts and the worker's protocol-1 lease delete, in one place. Each script touches keys of
 * one Cluster slot only.
 */

/**
 * Protocol 2: a lease lives in the value key itself (as in memcache, where a lease belongs to
 * the item). A miss writes `LEASE_MARKER_PREFIX + token` into k with `PX leaseTtlMs`, and the
 * fill replaces it only if it is still that marker. Whatever deletes k (the worker's plain
 * UNLINK of a key, a tag member or a pattern match, the client's own delete) deletes the lease
 * with it, so revoking costs the worker nothing beyond the delete it sends anyway. The marker
 * starts with a NUL byte: a client entry starts with `{` (entry-codec), so a reader never
 * takes a marker for a value, and no text value a person writes is likely to look like one.
 */
export const LEASE_MARKER_PREFIX = '\u0000lease:';

export function leaseMarkerOf(token: string): string {
  return LEASE_MARKER_PREFIX + token;
}

export function isLeaseMarker(raw: string): boolean {
  return raw.startsWith(LEASE_MARKER_PREFIX);
}

/**
 * KEYS = k; ARGV = marker, px, seen. Takes the lease when k is absent, or still holds exactly
 * `seen`: the value the caller read and judged a miss (an entry past its expiry, or bytes not
 * written by the library; never a marker); '' when it read nothing. 1 = ours; else what k
 * holds now (a value filled meanwhile, or another reader's marker), saving the caller a GET.
 */
export const ACQUIRE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == false or (ARGV[3] ~= '' and v == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return v`;

/** KEYS = k; ARGV = marker, value, px. The fill: write only if our marker is still there. 1 = stored, 0 = refused. */
export const FILL_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** KEYS = k; ARGV = marker. Releases the lease (deletes k) only if k still holds our marker. */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Protocol 1 (cache-client 0.1), kept for rolling upgrades: the lease was a separate key,
 * leaseKeyOf(k), and the worker had to delete it with k (REDIS_DELETE_LEASES=true).
 * The worker's delete of cache keys together with their lease keys in one command.
 * KEYS = cache keys of one Cluster slot sharing their lease affixes (leaseAffixesOf);
 * ARGV = the lease prefix and suffix, so key k's lease is ARGV[1] .. k .. ARGV[2]. Returns how
 * many keys went, leases included. Why a script: sending `key lease(key)` pairs cost the
 * worker about 1 µs of CPU and garbage per key (the lease string, twice the RESP encoding),
 * a fifth of its drain throughput; building the lease here costs Redis about 0.15-0.35 µs. The
 * naming stays in key-names.ts: the script only concatenates what the caller chose.
 */
export const UNLINK_WITH_LEASES = {
  name: 'cdcUnlinkWithLeases',
  lua: `
local n, removed = #KEYS, 0
-- unpack() is bounded by the Lua C stack (about 8000 values): delete in slices.
local function unlinkAll()
  for i = 1, n, 1000 do removed = removed + redis.call('UNLINK', unpack(KEYS, i, math.min(i + 999, n))) end
end
unlinkAll()
for i = 1, n do KEYS[i] = ARGV[1] .. KEYS[i] .. ARGV[2] end
unlinkAll()
return removed`,
} as const;
