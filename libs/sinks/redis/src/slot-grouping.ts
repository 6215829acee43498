import calculateSlot from 'cluster-key-slot';

/** Maps a key to the unit that may share one multi-key command: a hash slot in Cluster, one group standalone. */
export type SlotOf = (key: string) => number;

/** Redis Cluster hash slot of a key (CRC16 mod 16384, honouring {hash tags}). */
export const clusterSlotOf: SlotOf = (key) => calculateSlot(key);

/** Standalone and Sentinel: every key may go in the same command. */
export const singleSlotOf: SlotOf = () => 0;

/** One Redis command whose keys all live in `slot`, so it can be routed (and pipelined) as a unit. */
export interface SlotCommand {
  readonly name: string;
  readonly args: readonly (string | number)[];
  readonly slot: number;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Groups keys by slot, keeping their order inside each slot. */
export function groupBySlot(keys: Iterable<string>, slotOf: SlotOf): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = slotOf(key);
    let group = groups.get(slot);
    if (!group) groups.set(slot, (group = []));
    group.push(key);
  }
  return groups;
}

/**
 * `name key1 key2 ...` commands (UNLINK, EXISTS) with at most `chunkSize` keys each and
 * never two slots in one command (a multi-key command across slots is a CROSSSLOT error
 * in Cluster).
 */
export function multiKeyCommands(name: string, keys: Iterable<string>, chunkSize: number, slotOf: SlotOf): SlotCommand[] {
  const commands: SlotCommand[] = [];
  if (slotOf === singleSlotOf) {
    // Standalone hot path: no grouping pass, just chunks.
    for (const part of chunk(Array.isArray(keys) ? keys : [...keys], chunkSize)) commands.push({ name, args: part, slot: 0 });
    return commands;
  }
  for (const [slot, group] of groupBySlot(keys, slotOf)) {
    for (const part of chunk(group, chunkSize)) commands.push({ name, args: part, slot });
  }
  return commands;
}

/** A multi-key command together with the keys it acts for (to report a failure per key). */
export interface KeyCommand extends SlotCommand {
  readonly keys: readonly string[];
}

/**
 * `UNLINK` commands for `keys`, at most `chunkSize` keys each, never two slots in one
 * command. With `companionOf`, each key's companion (its lease key) goes in the same
 * command right after it: one round trip deletes both, and because a companion lives in
 * its key's slot by construction (leaseKeyOf), a pair is never split by slot or by chunk.
 */
export function unlinkCommands(keys: Iterable<string>, chunkSize: number, slotOf: SlotOf, companionOf?: (key: string) => string): KeyCommand[] {
  const commands: KeyCommand[] = [];
  const groups = slotOf === singleSlotOf ? new Map([[0, Array.isArray(keys) ? (keys as string[]) : [...keys]]]) : groupBySlot(keys, slotOf);
  for (const [slot, group] of groups) {
    for (const part of chunk(group, chunkSize)) {
      let args: string[] = part;
      if (companionOf) {
        args = new Array<string>(part.length * 2);
        part.forEach((key, i) => {
          args[2 * i] = key;
          args[2 * i + 1] = companionOf(key);
        });
      }
      commands.push({ name: 'unlink', args, slot, keys: part });
    }
  }
  return commands;
}
