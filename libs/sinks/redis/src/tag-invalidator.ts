import { RejectedAction } from '@cdc/core';
import { LEASE_PREFIX, RESERVED_PREFIX, leaseKeyOf } from '@cdc/protocol';
import { RedisClient } from './redis-client';
import { RedisCommandRunner } from './redis-command-runner';
import { SlotCommand, chunk, unlinkCommands } from './slot-grouping';

/** Tags taken and drained in one pipelined round; bounds the members held at once. */
const TAGS_PER_ROUND = 256;

/** Called after a page of a tag's members was taken and before they are deleted. */
export type TagMembersReadHook = (tag: string, members: readonly string[]) => void | Promise<void>;

/**
 * The steps of one page of a tag invalidation, for tests that interleave a reader:
 * 'before-page' (before the take/page script), 'taken' (a page came back, nothing
 * deleted yet), 'unlinked' (the page's keys are gone), 'released' (the page left the
 * holding set).
 */
export type TagStep = 'before-page' | 'taken' | 'unlinked' | 'released';
export type TagStepHook = (step: TagStep, tag: string, members: readonly string[]) => void | Promise<void>;

export interface TagInvalidatorOptions {
  readonly tagPrefix: string;
  /** Members per page (SRANDMEMBER count). */
  readonly scanCount: number;
  readonly chunkSize: number;
  /** Delete each member's lease key in the same UNLINK. */
  readonly deleteLeases: boolean;
  readonly onTagMembersRead?: TagMembersReadHook;
  readonly onTagStep?: TagStepHook;
}

export interface TagInvalidationResult {
  readonly unlinked: number;
  readonly rejected: RejectedAction[];
}

/** Where a tag set's taken members wait until they are deleted; see holdingSetKey. */
export const TAG_HOLDING_PREFIX = `${RESERVED_PREFIX}tag-held:`;

/**
 * The holding set of a tag set: in the tag set's Cluster slot (the script touches both),
 * under the reserved prefix (no pattern delete reaches it). leaseKeyOf already builds
 * "a prefix without braces + a part that hashes like the key"; only the prefix differs.
 */
export function holdingSetKey(setKey: string): string {
  return TAG_HOLDING_PREFIX + leaseKeyOf(setKey).slice(LEASE_PREFIX.length);
}

/**
 * One page of a tag: KEYS[1] the tag set, KEYS[2] its holding set; ARGV[1] page size,
 * ARGV[2] '1' when this invalidation has not taken the tag set yet. Returns
 * {took, members}: a page of the holding set, after moving the whole tag set into the
 * (empty) holding set with RENAME when allowed. A holding set left by a crash is
 * drained before anything is taken, and never overwritten.
 */
const TAKE_PAGE_LUA = `
local page = redis.call('SRANDMEMBER', KEYS[2], ARGV[1])
if #page > 0 or ARGV[2] ~= '1' then return {0, page} end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return {0, page} end
if kind ~= 'set' then return redis.error_reply('WRONGTYPE tag set ' .. KEYS[1] .. ' holds a ' .. kind .. ', not a set') end
redis.call('RENAME', KEYS[1], KEYS[2])
return {1, redis.call('SRANDMEMBER', KEYS[2], ARGV[1])}
`;

const TAKE_PAGE_COMMAND = 'cdcTagTakePage';

/** ioredis sends EVALSHA and loads the script on each connection the first time (EVAL), NOSCRIPT included. */
function defineTakePage(client: RedisClient): void {
  if (!(TAKE_PAGE_COMMAND in client)) client.defineCommand(TAKE_PAGE_COMMAND, { numberOfKeys: 2, lua: TAKE_PAGE_LUA });
}

interface TagState {
  readonly tag: string;
  readonly setKey: string;
  readonly holdKey: string;
  readonly slot: number;
  /** True until this invalidation has moved the tag set into the holding set. */
  mayTake: boolean;
  page: string[];
}

/**
 * Invalidates tags. A tag T is a Redis SET at `${tagPrefix}${T}` of the keys that carry
 * it, written by the application (SADD after SET; see docs/tag-sets.md).
 *
 * The take is one atomic step: a script RENAMEs the tag set into a per-tag holding set
 * in the same slot. From that instant a reader's SADD creates a fresh tag set, so a key
 * tagged (or re-tagged after a refill) after the take keeps its membership; the old
 * code's SREM of the members it had read removed the membership of a key refilled
 * between its UNLINK and its SREM, orphaning a stale key until its TTL. The holding set
 * is then drained page by page (SRANDMEMBER count, UNLINK the page and its leases, SREM
 * the page from the holding set), so the worker holds one page per tag; RENAME is O(1)
 * in Redis however large the set.
 *
 * Why RENAME into a holding set, rather than the alternatives:
 * - SPOP with a count would lose the popped members on a crash before the UNLINK.
 * - A script moving a page at a time (SPOP + SADD holding) is crash-safe but cannot tell
 *   the members present at the start from those added during the drain: on a hot tag the
 *   loop deletes fresh entries and may never end.
 * - Recording the members with the batch before the take would need worker-side storage
 *   of unbounded size per tag.
 * The holding set survives a crash (kill -9) between the take and the UNLINK, in Redis,
 * next to the tag set: the next invalidation of the tag (the retry of the same batch, or
 * any later one) drains it before taking again, and the script never overwrites it. Only
 * the worker writes holding sets and only keys to delete go in, so deleting any of its
 * members is always right, even by two invalidations of one tag running at once.
 */
export class TagInvalidator {
  constructor(
    private readonly runner: RedisCommandRunner,
    private readonly options: TagInvalidatorOptions,
  ) {
    defineTakePage(runner.client);
  }

  async invalidate(tags: Iterable<string>): Promise<TagInvalidationResult> {
    const result = { unlinked: 0, rejected: [] as RejectedAction[] };
    for (const group of chunk([...tags], TAGS_PER_ROUND)) {
      let active: TagState[] = group.map((tag) => {
        const setKey = this.options.tagPrefix + tag;
        return { tag, setKey, holdKey: holdingSetKey(setKey), slot: this.runner.slotOf(setKey), mayTake: true, page: [] };
      });
      while (active.length > 0) active = await this.round(active, result);
    }
    return result;
  }

  /** One page of every active tag: take/page, UNLINK, release. Returns the tags that have more. */
  private async round(active: TagState[], result: { unlinked: number; rejected: RejectedAction[] }): Promise<TagState[]> {
    const { runner, options } = this;
    const reject = (t: TagState, reason: string): void => {
      result.rejected.push({ kind: 'tag', value: t.tag, reason });
    };
    await this.step('before-page', active, true);

    const takes: SlotCommand[] = active.map((t) => ({
      name: TAKE_PAGE_COMMAND,
      args: [t.setKey, t.holdKey, options.scanCount, t.mayTake ? '1' : '0'],
      slot: t.slot,
    }));
    const taken = await runner.runSettled(takes, 'taking tag sets');
    const paged: TagState[] = [];
    active.forEach((t, i) => {
      const outcome = taken[i];
      if (!outcome.ok) return reject(t, outcome.error.message);
      const [took, members] = outcome.reply as [number, string[]];
      if (took === 1) t.mayTake = false;
      t.page = members;
      if (members.length > 0) paged.push(t);
    });
    if (paged.length === 0) return [];
    await this.step('taken', paged);
    if (options.onTagMembersRead) for (const t of paged) await options.onTagMembersRead(t.tag, t.page);

    const members = new Set<string>();
    for (const t of paged) for (const m of t.page) members.add(m);
    const unlinks = unlinkCommands(members, options.chunkSize, runner.slotOf, options.deleteLeases ? leaseKeyOf : undefined);
    const { unlinked, failed: failedKeys } = await runner.unlink(unlinks, 'unlinking tagged keys');
    result.unlinked += unlinked;
    // A tag with an undeleted member stops here: its members stay in the holding set, for
    // the next invalidation of the tag.
    const deleted = paged.filter((t) => {
      const failure = t.page.find((m) => failedKeys.has(m));
      if (failure !== undefined) reject(t, failedKeys.get(failure)!);
      return failure === undefined;
    });
    await this.step('unlinked', deleted);

    const releases: SlotCommand[] = [];
    const owners: TagState[] = [];
    for (const t of deleted) {
      for (const part of chunk(t.page, options.chunkSize)) {
        releases.push({ name: 'srem', args: [t.holdKey, ...part], slot: t.slot });
        owners.push(t);
      }
    }
    const released = await runner.runSettled(releases, 'releasing invalidated members (SREM)');
    const failedTags = new Map<TagState, string>();
    released.forEach((o, i) => {
      if (!o.ok && !failedTags.has(owners[i])) failedTags.set(owners[i], o.error.message);
    });
    for (const [t, reason] of failedTags) reject(t, reason);
    const next = deleted.filter((t) => !failedTags.has(t));
    await this.step('released', next);
    return next;
  }

  private async step(step: TagStep, tags: readonly TagState[], beforePage = false): Promise<void> {
    const hook = this.options.onTagStep;
    if (!hook) return;
    for (const t of tags) await hook(step, t.tag, beforePage ? [] : t.page);
  }
}

