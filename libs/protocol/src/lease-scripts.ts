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
