import { LEASE_PREFIX, leaseKeyOf } from './key-names';

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
 * KEYS = tag set, its taken copy (takenTagKeyOf); ARGV = px. Takes a tag's members
 * atomically: the set is moved into the copy (merged if the copy exists: a retry after a
 * crash finds the members an earlier attempt took), so every key tagged before this moment
 * is in the copy and a key tagged after it starts a new set. Then the caller UNLINKs the
 * copy's members with their leases and deletes the copy. Returns the copy's size.
 * A tag set of another type is a WRONGTYPE error.
 */
export const TAKE_TAG_SCRIPT = `
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' then
  if t ~= 'set' then return redis.error_reply('WRONGTYPE tag set ' .. KEYS[1] .. ' is a ' .. t .. ', not a set') end
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
    redis.call('DEL', KEYS[1])
  else
    redis.call('RENAME', KEYS[1], KEYS[2])
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return redis.call('SCARD', KEYS[2])`;

export const TAKEN_TAG_PREFIX = 'cdc:tag-taken:';

/**
 * The taken copy of a tag set, in the set's Cluster slot. `suffix` tells takers apart: a
 * fixed one for a single taker that must find its leftovers after a crash (the worker), a
 * random one for concurrent takers (client processes).
 */
export function takenTagKeyOf(setKey: string, suffix: string): string {
  return `${TAKEN_TAG_PREFIX}${leaseKeyOf(setKey).slice(LEASE_PREFIX.length)}:${suffix}`;
}
