/**
 * The Lua scripts of the protocol. Each touches keys of one Cluster slot only (a key and
 * its lease share a slot by construction; a tag set and its taken copy too).
 */

/** KEYS = k, lease(k); ARGV = token, value, px. The CLIENT-PROTOCOL.md fill: write only if our lease is still there. */
export const FILL_SCRIPT = `
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
else
  return 0
end`;

/** KEYS = lease(k); ARGV = token. Releases the lease only if it is still ours (a loader failed or timed out). */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * KEYS = k, lease(k); ARGV = value, px. An explicit set: the caller's value is newer than
 * anything a loader in flight read, so revoke any lease while writing.
 */
export const SET_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1`;

/** KEYS = k, lease(k). One read of both for a waiter (GET raises WRONGTYPE on a lease of the wrong type). */
export const POLL_SCRIPT = `
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}`;

/**
 * KEYS = tag set, a fresh name in its slot; ARGV = px. Takes the tag's members atomically:
 * the set is renamed away, so a key tagged after this moment goes into a new set (and is
 * protected by its own lease), and every key tagged before is in the taken copy.
 * Returns the number of members taken (0 when there is no set).
 */
export const TAKE_TAG_SCRIPT = `
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return 0 end
if t ~= 'set' then return redis.error_reply('WRONGTYPE tag set ' .. KEYS[1] .. ' is a ' .. t .. ', not a set') end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return redis.call('SCARD', KEYS[2])`;
