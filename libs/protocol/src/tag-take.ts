import { randomBytes } from 'node:crypto';
import { LEASE_PREFIX, RESERVED_PREFIX, leaseKeyOf } from './key-names';

/**
 * How a tag's members are taken and drained, by the worker and by the client library alike
 * (docs/tag-sets.md). One holding set per tag set, shared by every taker:
 *
 * 1. takePage: a page of the holding set; when it is empty and the caller has not taken yet,
 *    the tag set is first RENAMEd into it (atomic, O(1)): every key tagged before that instant
 *    is taken, a key tagged after it starts a fresh tag set. The take stamps the holding set
 *    with a fresh epoch token.
 * 2. The caller UNLINKs the page's keys with their leases.
 * 3. releasePage: SREM the page from the holding set, only if the holding set is still of
 *    the page's epoch.
 *
 * Why one shared holding set: a taker that dies after its take leaves its members in the one
 * place every later taker of the tag drains first (the worker's retry, any client), and a take
 * never overwrites a non-empty holding set. Why the epoch: concurrent takers drain the same
 * holding set; a taker slow between its page and its release could otherwise SREM a member
 * that another taker has meanwhile released, re-taken from a re-tagged tag set and not yet
 * deleted, leaving a refilled key in no set at all.
 */

/** Where a tag set's taken members wait until they are deleted. */
export const TAG_HOLDING_PREFIX = `${RESERVED_PREFIX}tag-held:`;
/** The epoch token of a holding set (present while the holding set is). */
export const TAG_EPOCH_PREFIX = `${RESERVED_PREFIX}tag-epoch:`;

export interface TagTakeKeys {
  readonly setKey: string;
  readonly holdKey: string;
  readonly epochKey: string;
}

/**
 * The keys of a tag take, all in the tag set's Cluster slot (the scripts touch them together)
 * and under the reserved prefix (no pattern delete reaches them). leaseKeyOf already builds
 * "a prefix without braces + a part that hashes like the key"; only the prefix differs.
 */
export function tagTakeKeys(setKey: string): TagTakeKeys {
  const hashed = leaseKeyOf(setKey).slice(LEASE_PREFIX.length);
  return { setKey, holdKey: TAG_HOLDING_PREFIX + hashed, epochKey: TAG_EPOCH_PREFIX + hashed };
}

const TAKE_TOKEN_PREFIX = `${randomBytes(12).toString('base64url')}.`;
let takeTokenCount = 0;

/**
 * A fresh epoch token, one for every takePage call (a token is never reused, so no ABA):
 * a random per-process prefix (apart across processes, worker and clients alike) and a
 * counter (apart within the process). Not randomBytes per call: a take runs per tag per
 * batch, and a synchronous randomBytes cost about 8 µs each, 6 % of the worker's CPU at
 * 5,000 tx/s (bench --cpu-prof). The token only has to be unique, not unguessable.
 */
export function newTakeToken(): string {
  takeTokenCount++;
  return TAKE_TOKEN_PREFIX + takeTokenCount.toString(36);
}

export interface TagScript {
  /** The ioredis command name (defineCommand) both sides use. */
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

/**
 * KEYS = tag set, holding set, epoch key; ARGV = page size, '1' when the caller may take
 * (it has not taken the tag set yet), a fresh token. Returns {took, epoch, members}:
 * a page of the holding set with its epoch. A holding set left by a crash is drained before
 * anything is taken, and never overwritten; one without an epoch (left by a version before
 * epochs) is adopted under the token. WRONGTYPE error when the tag set is not a set.
 */
export const TAKE_TAG_PAGE: TagScript = {
  name: 'cdcTagTakePage',
  numberOfKeys: 3,
  lua: `
local page = redis.call('SRANDMEMBER', KEYS[2], ARGV[1])
if #page > 0 then
  local epoch = redis.call('GET', KEYS[3])
  if not epoch then
    epoch = ARGV[3]
    redis.call('SET', KEYS[3], epoch)
  end
  return {0, epoch, page}
end
if ARGV[2] ~= '1' then return {0, '', page} end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return {0, '', page} end
if kind ~= 'set' then return redis.error_reply('WRONGTYPE tag set ' .. KEYS[1] .. ' holds a ' .. kind .. ', not a set') end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], ARGV[3])
return {1, ARGV[3], redis.call('SRANDMEMBER', KEYS[2], ARGV[1])}`,
};

/**
 * KEYS = holding set, epoch key; ARGV = the page's epoch, its members (after they were
 * UNLINKed). Removes them from the holding set if it is still of that epoch, else nothing
 * (the holding set was emptied, so these members were released, and a later take may hold
 * the same names again, not yet deleted). Drops the epoch with the emptied holding set.
 * Returns the members removed.
 */
export const RELEASE_TAG_PAGE: TagScript = {
  name: 'cdcTagRelease',
  numberOfKeys: 2,
  lua: `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local n = 0
for i = 2, #ARGV, 1000 do
  n = n + redis.call('SREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return n`,
};

/** TAKE_TAG_PAGE's reply. */
export interface TakenPage {
  /** This call moved the tag set into the holding set: the caller must not take again. */
  readonly took: boolean;
  readonly epoch: string;
  /** Empty = nothing left to drain (and, if the caller may still take, nothing to take). */
  readonly members: string[];
}

export function parseTakenPage(reply: unknown): TakenPage {
  const [took, epoch, members] = reply as [number, string, string[]];
  return { took: took === 1, epoch, members };
}

/** The arguments of TAKE_TAG_PAGE after its name. */
export function takePageArgs(keys: TagTakeKeys, pageSize: number, mayTake: boolean): Array<string | number> {
  return [keys.setKey, keys.holdKey, keys.epochKey, pageSize, mayTake ? '1' : '0', newTakeToken()];
}

/** The arguments of RELEASE_TAG_PAGE after its name. */
export function releasePageArgs(keys: TagTakeKeys, epoch: string, members: readonly string[]): string[] {
  return [keys.holdKey, keys.epochKey, epoch, ...members];
}
