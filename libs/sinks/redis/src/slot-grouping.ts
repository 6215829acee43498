import calculateSlot from 'cluster-key-slot';
import { LeaseAffixes, UNLINK_WITH_LEASES, leaseAffixesOf, leaseKeyOf } from '@cdc/protocol';

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
  return groupBy(keys, slotOf);
}

/** Groups keys by `groupOf(key)`, keeping their order inside each group. */
function groupBy<G>(keys: Iterable<string>, groupOf: (key: string) => G): Map<G, string[]> {
  const groups = new Map<G, string[]>();
  for (const key of keys) {
    const id = groupOf(key);
    let group = groups.get(id);
    if (!group) groups.set(id, (group = []));
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
 * command. With `withLeases`, each key's lease key (leaseKeyOf) goes in the same command:
 * keys that share lease affixes (nearly all) go to UNLINK_WITH_LEASES, which builds the
 * leases in Redis (the worker sends each key once: no lease string, no second RESP
 * argument); a key without affixes goes in a plain `UNLINK key lease(key)`. Either way one
 * round trip deletes both, and because a lease lives in its key's slot by construction, a
 * pair is never split by slot or chunk.
 */
export function unlinkCommands(keys: Iterable<string>, chunkSize: number, slotOf: SlotOf, withLeases = false): KeyCommand[] {
  const commands: KeyCommand[] = [];
  const groups = slotOf === singleSlotOf ? new Map([[0, Array.isArray(keys) ? (keys as string[]) : [...keys]]]) : groupBySlot(keys, slotOf);
  for (const [slot, group] of groups) {
    for (const part of chunk(group, chunkSize)) {
      if (!withLeases) {
        commands.push({ name: 'unlink', args: part, slot, keys: part });
        continue;
      }
      const first = leaseAffixesOf(part[0]);
      if (first && part.every((key) => leaseAffixesOf(key) === first)) {
        commands.push(unlinkWithLeases(part, first, slot)); // the common case: one kind of key
        continue;
      }
      for (const [affixes, same] of groupBy(part, leaseAffixesOf)) {
        commands.push(affixes ? unlinkWithLeases(same, affixes, slot) : { name: 'unlink', args: same.flatMap((key) => [key, leaseKeyOf(key)]), slot, keys: same });
      }
    }
  }
  return commands;
}

/** One UNLINK_WITH_LEASES call (ioredis custom command: numkeys, the keys, then the lease affixes). */
export function unlinkWithLeases(keys: readonly string[], affixes: LeaseAffixes, slot: number): KeyCommand {
  return { name: UNLINK_WITH_LEASES.name, args: [keys.length, ...keys, affixes.prefix, affixes.suffix], slot, keys };
}

/**
 * One command per key of a multi-key unlink (to confine a refusal to its key): the script
 * with one key, or `UNLINK key companion...` for a plain one (args are keys, each followed by
 * the same number of companions).
 */
export function splitByKey(command: KeyCommand): KeyCommand[] {
  if (command.name === UNLINK_WITH_LEASES.name) {
    const [prefix, suffix] = command.args.slice(-2) as string[];
    return command.keys.map((key) => unlinkWithLeases([key], { prefix, suffix }, command.slot));
  }
  const per = command.args.length / command.keys.length;
  return command.keys.map((key, i) => ({ name: command.name, args: command.args.slice(i * per, (i + 1) * per), slot: command.slot, keys: [key] }));
}
