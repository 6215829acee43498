/**
 * What the consistency audit caches and how the driver and the reader processes name it.
 * Shared by audit.ts (the driver) and reader-process.ts (one cache per process).
 *
 * Rows: items(id, grp, version). Three kinds of cache entries, each in every mode's namespace:
 *   item:{id}   the row, invalidated by its key;
 *   view:{id}   the row, tagged item-{id}: invalidated through the tag set;
 *   group:{g}   every row of a group (id, version), tagged grp-{g}: one change anywhere in the group invalidates it.
 */

import type { RedisTarget } from './audit-redis';

export type Mode = 'library' | 'cache-aside' | 'bentocache';
export const MODES: readonly Mode[] = ['library', 'cache-aside', 'bentocache'];

/** Each mode caches under its own prefix; the rules name every prefix, so one worker serves all three. */
export const PREFIX: Record<Mode, string> = { library: 'lib:', 'cache-aside': 'ca:', bentocache: 'bento:' };

export const CHANNEL = 'audit';

export type Kind = 'item' | 'view' | 'group';

/** `kind:n` (n = item id or group number), without the mode prefix. */
export type KeySpec = string;

export function keySpec(kind: Kind, n: number): KeySpec {
  return `${kind}:${n}`;
}

export function parseSpec(spec: KeySpec): { kind: Kind; n: number } {
  const [kind, n] = spec.split(':');
  return { kind: kind as Kind, n: Number(n) };
}

export function tagsOf(spec: KeySpec): string[] {
  const { kind, n } = parseSpec(spec);
  return kind === 'view' ? [`item-${n}`] : kind === 'group' ? [`grp-${n}`] : [];
}

/** What every cache stores: the versions of the rows the entry was built from, by id. */
export interface Cached {
  readonly rows: ReadonlyArray<readonly [id: number, version: number]>;
}

export const RULES = `
version: 1
defaults:
  channels: ["${CHANNEL}"]
rules:
  - name: item
    table: public.items
    invalidate:
      keys: ${JSON.stringify(Object.values(PREFIX).map((p) => `${p}item:{id}`))}
      tags: ["item-{id}", "grp-{grp}"]
  - name: marker
    table: public.markers
    invalidate:
      keys: ["marker:{id}"]
`;

export const SCHEMA_SQL = `
  CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, version int NOT NULL);
  CREATE TABLE markers (id text PRIMARY KEY);
`;

/** The loader every mode runs: the rows of one entry, read in one statement. */
export function selectFor(spec: KeySpec): { sql: string; params: unknown[] } {
  const { kind, n } = parseSpec(spec);
  return kind === 'group'
    ? { sql: 'SELECT id, version FROM items WHERE grp = $1 ORDER BY id', params: [n] }
    : { sql: 'SELECT id, version FROM items WHERE id = $1', params: [n] };
}

export function toCached(rows: ReadonlyArray<{ id: number; version: number }>): Cached {
  return { rows: rows.map((r) => [r.id, r.version] as const) };
}

/** One wall clock with sub-millisecond resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Driver → reader. */
export type ToReader =
  | {
      type: 'config';
      mode: Mode;
      redis: RedisTarget;
      databaseUrl: string;
      concurrency: number;
      /** Random reads pick from these. */
      specs: KeySpec[];
      /** Share of loads that pause between the SELECT and the fill, and for how long at most. */
      pauseProbability: number;
      pauseMaxMs: number;
    }
  | { type: 'run' }
  | { type: 'stop' }
  /** Read one key whose loader stops after its SELECT until `resume` (the driver commits meanwhile). */
  | { type: 'probe'; spec: KeySpec }
  | { type: 'resume'; spec: KeySpec }
  /** Report what this process holds for these keys: L1 (where it has one) and what a read returns. */
  | { type: 'dump'; specs: KeySpec[] };

export interface ReadRecord {
  readonly spec: KeySpec;
  /** When the read started and when it returned (nowMs). */
  readonly t: number;
  readonly end: number;
  readonly rows: Cached['rows'];
}

/** One invalidation heard: what it names (targetsOf), the WAL position it covers, when (nowMs). */
export interface Heard {
  readonly targets: string[];
  readonly lsn: number;
  readonly t: number;
}

/**
 * What an L1 message invalidates, as the audit times it: `key:{spec}` for the library's keys
 * (every mode's key names the same spec) and `tag:{tag}`.
 */
export function targetsOf(m: { keys: readonly string[]; tags: readonly string[] }): string[] {
  const out: string[] = [];
  for (const k of m.keys) if (k.startsWith(PREFIX.library)) out.push(`key:${k.slice(PREFIX.library.length)}`);
  for (const tag of m.tags) out.push(`tag:${tag}`);
  return out;
}

/** Reader → driver. */
export type FromReader =
  | { type: 'ready' }
  /** `heard`: the library's own evictions (when its subscriber applied each message). */
  | { type: 'reads'; reads: ReadRecord[]; errors: number; heard: Heard[] }
  | { type: 'stopped'; stats: Record<string, unknown> }
  | { type: 'probe-selected'; spec: KeySpec }
  | { type: 'probe-done'; spec: KeySpec; error?: string }
  | { type: 'dump'; l1: Record<KeySpec, Cached | null>; read: Record<KeySpec, Cached | null> };
