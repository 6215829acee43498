import { RejectedAction } from '@cdc/core';
import { RELEASE_TAG_PAGE, TAKE_TAG_PAGE, TagTakeKeys, parseTakenPage, releasePageArgs, tagTakeKeys, takePageArgs } from '@cdc/protocol';
import { RedisCommandRunner, defineScript } from './redis-command-runner';
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


interface TagState {
  readonly tag: string;
  readonly keys: TagTakeKeys;
  readonly slot: number;
  /** True until this invalidation has moved the tag set into the holding set. */
  mayTake: boolean;
  page: string[];
  /** The holding set's epoch the page was taken in (see @cdc/protocol tag-take). */
  epoch: string;
}

/**
 * Invalidates tags. A tag T is a Redis SET at `${tagPrefix}${T}` of the keys that carry
 * it, written by the application (SADD after SET; see docs/tag-sets.md).
 *
 * The take and the drain are the shared protocol steps of @cdc/protocol (tag-take.ts, the
 * client library's invalidateTags runs the same scripts): RENAME the tag set into the
 * tag's one holding set, then page by page SRANDMEMBER, UNLINK the page with its leases,
 * release it (SREM, only within the page's epoch). Every taker, worker or client, drains
 * a holding set left by a crashed taker before it takes, so nothing taken is lost; why
 * this scheme and not the alternatives is in docs/tag-sets.md. Here the rounds are
 * pipelined over many tags at once, and a tag with a key Redis refused stops with its
 * members still held, for the next invalidation.
 */
export class TagInvalidator {
  constructor(
    private readonly runner: RedisCommandRunner,
    private readonly options: TagInvalidatorOptions,
  ) {
    for (const script of [TAKE_TAG_PAGE, RELEASE_TAG_PAGE]) defineScript(runner.client, script);
  }

  async invalidate(tags: Iterable<string>): Promise<TagInvalidationResult> {
    const result = { unlinked: 0, rejected: [] as RejectedAction[] };
    for (const group of chunk([...tags], TAGS_PER_ROUND)) {
      let active: TagState[] = group.map((tag) => {
        const setKey = this.options.tagPrefix + tag;
        return { tag, keys: tagTakeKeys(setKey), slot: this.runner.slotOf(setKey), mayTake: true, page: [], epoch: '' };
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

    const takes: SlotCommand[] = active.map((t) => ({ name: TAKE_TAG_PAGE.name, args: takePageArgs(t.keys, options.scanCount, t.mayTake), slot: t.slot }));
    const taken = await runner.runSettled(takes, 'taking tag sets');
    const paged: TagState[] = [];
    active.forEach((t, i) => {
      const outcome = taken[i];
      if (!outcome.ok) return reject(t, outcome.error.message);
      const { took, epoch, members } = parseTakenPage(outcome.reply);
      if (took) t.mayTake = false;
      t.page = members;
      t.epoch = epoch;
      if (members.length > 0) paged.push(t);
    });
    if (paged.length === 0) return [];
    await this.step('taken', paged);
    if (options.onTagMembersRead) for (const t of paged) await options.onTagMembersRead(t.tag, t.page);

    const members = new Set<string>();
    for (const t of paged) for (const m of t.page) members.add(m);
    const unlinks = unlinkCommands(members, options.chunkSize, runner.slotOf, options.deleteLeases);
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
        releases.push({ name: RELEASE_TAG_PAGE.name, args: releasePageArgs(t.keys, t.epoch, part), slot: t.slot });
        owners.push(t);
      }
    }
    const released = await runner.runSettled(releases, 'releasing invalidated members');
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

