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
