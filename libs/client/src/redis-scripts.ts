export { ACQUIRE_SCRIPT, FILL_SCRIPT, RELEASE_SCRIPT } from '@cdc/protocol';

/**
 * The client's own Lua scripts (the lease scripts are in @cdc/protocol). Each touches keys of
 * one Cluster slot only (a key and its protocol-1 lease key share a slot by construction).
 */

/**
 * KEYS = k, lease(k) (protocol 1); ARGV = value, px. An explicit set: the caller's value is
 * newer than anything a loader in flight read. Overwriting k revokes a protocol-2 lease (the
 * marker in k); the DEL revokes a cache-client 0.1 reader's lease key during a rolling upgrade.
 */
export const SET_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1`;
