export { FILL_SCRIPT, RELEASE_SCRIPT } from '@cdc/protocol';

/**
 * The client's own Lua scripts (the shared ones are in @cdc/protocol). Each touches keys of one Cluster slot only (a key and
 * its lease share a slot by construction).
 */

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

