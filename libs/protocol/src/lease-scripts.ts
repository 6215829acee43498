/**
 * The Lua scripts of the lease protocol (CLIENT-PROTOCOL.md), shared so both sides run the
 * same text. Each touches keys of one Cluster slot only.
 */

/** KEYS = k, lease(k); ARGV = token, value, px. The fill: write only if our lease is still there. 1 = stored, 0 = refused. */
export const FILL_SCRIPT = `
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
else
  return 0
end`;

/** KEYS = lease(k); ARGV = token. Releases the lease only if it is still ours. */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
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
