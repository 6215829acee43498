import { RedisCommandRunner, sumReplies } from './redis-command-runner';
import { redisMetrics } from './redis-metrics';
import { SlotCommand, chunk, multiKeyCommands } from './slot-grouping';

/** Tags whose sets are read in one pipelined round; bounds the members held at once. */
const TAGS_PER_ROUND = 256;

/** Called after a tag's members were read and before they are deleted (tests use it to interleave a writer). */
export type TagMembersReadHook = (tag: string, members: readonly string[]) => void | Promise<void>;

export interface TagInvalidatorOptions {
  readonly tagPrefix: string;
  readonly scanCount: number;
  readonly chunkSize: number;
  readonly onTagMembersRead?: TagMembersReadHook;
}

interface TagCursor {
  readonly tag: string;
  readonly setKey: string;
  cursor: string;
}

/**
 * Invalidates tags. A tag T is a Redis SET at `${tagPrefix}${T}` holding the keys that
 * carry it. For each tag: read members, UNLINK them, then SREM exactly those members.
 * The set is never DELeted: a key tagged concurrently after our read stays in it and is
 * invalidated by the next change. UNLINK is confirmed before SREM, so a crash between
 * the two leaves the members in the set and the retry deletes them again (harmless),
 * never the other way round (a live key no tag points to).
 *
 * Members are read with SSCAN, not SMEMBERS: on a small set (listpack/intset) the first
 * SSCAN returns every member in one reply, exactly like SMEMBERS, while a large set is
 * read in bounded pages of about `scanCount`, so memory stays bounded without a SCARD
 * round trip to choose between the two.
 */
export class TagInvalidator {
  constructor(
    private readonly runner: RedisCommandRunner,
    private readonly options: TagInvalidatorOptions,
  ) {}

  /** Returns the number of keys UNLINK removed. */
  async invalidate(tags: Iterable<string>): Promise<number> {
    let unlinked = 0;
    for (const group of chunk([...tags], TAGS_PER_ROUND)) {
      let active: TagCursor[] = group.map((tag) => ({ tag, setKey: this.options.tagPrefix + tag, cursor: '0' }));
      while (active.length > 0) {
        unlinked += await this.round(active);
        active = active.filter((t) => t.cursor !== '0');
      }
    }
    return unlinked;
  }

  /** One page of every active tag: SSCAN, UNLINK members, SREM those members. Advances cursors. */
  private async round(active: TagCursor[]): Promise<number> {
    const { runner, options } = this;
    const scans: SlotCommand[] = active.map((t) => ({
      name: 'sscan',
      args: [t.setKey, t.cursor, 'COUNT', options.scanCount],
      slot: runner.slotOf(t.setKey),
    }));
    const pages = (await runner.run(scans, 'reading tag sets (SSCAN)')) as Array<[string, string[]]>;

    const read: Array<{ tag: TagCursor; members: string[] }> = [];
    active.forEach((tag, i) => {
      const [next, members] = pages[i];
      tag.cursor = next;
      if (members.length > 0) read.push({ tag, members });
    });
    if (options.onTagMembersRead) {
      for (const { tag, members } of read) await options.onTagMembersRead(tag.tag, members);
    }
    if (read.length === 0) return 0;

    const allMembers = new Set<string>();
    for (const { members } of read) for (const m of members) allMembers.add(m);
    const unlinkReplies = await runner.run(multiKeyCommands('unlink', allMembers, options.chunkSize, runner.slotOf), 'unlinking tagged keys');

    const removals: SlotCommand[] = [];
    for (const { tag, members } of read) {
      const slot = runner.slotOf(tag.setKey);
      for (const part of chunk(members, options.chunkSize)) removals.push({ name: 'srem', args: [tag.setKey, ...part], slot });
    }
    const unlinked = sumReplies(unlinkReplies);
    redisMetrics.keysUnlinked.inc(unlinked);
    await runner.run(removals, 'removing invalidated members from tag sets (SREM)');
    return unlinked;
  }
}
