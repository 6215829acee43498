import { CdnPurge, ChangeEvent, DeadLetter, InvalidationBatch, RejectedAction, Row, errorMessage, isUnknown } from '@cdc/core';

/**
 * The dead letters the pipeline writes, one per failed unit, and how to read them back for
 * a redrive. Two payload kinds:
 * - `event`: one rule (or the whole rules stage) failed on one event; the event is kept in
 *   the JSON `explain --event` takes, so `dead-letters redrive` can run it through the
 *   current rules again;
 * - `actions`: keys, tags, patterns, L1 channels or CDN purges a sink rejected for good;
 *   a redrive applies them again.
 */

/** Row values nested deeper than this are cut (a dead letter must always be writable as JSON). */
export const MAX_PAYLOAD_DEPTH = 64;
const CUT = '<cut: nested too deep>';

/** ChangeEvent as JSON in the shape `parseEventJson` (libs/rules) reads back. */
export interface EventJson {
  readonly op: string;
  readonly schema: string;
  readonly table: string;
  readonly before?: Record<string, unknown>;
  readonly after?: Record<string, unknown>;
  /** Columns whose value the event could not supply (`before.col` / `after.col`). */
  readonly unknown?: string[];
  readonly keyColumns?: readonly string[];
  readonly commitTime: number;
  readonly position: string;
  readonly txId?: string;
  readonly explicit?: { readonly keys: readonly string[]; readonly tags: readonly string[]; readonly patterns: readonly string[] };
}

export interface EventLetterPayload {
  readonly kind: 'event';
  /** The rule that failed; absent when the whole rules stage failed on the event. */
  readonly rule?: string;
  readonly event: EventJson;
  /** Some value was nested deeper than MAX_PAYLOAD_DEPTH and cut: the event cannot be re-run as it was. */
  readonly cut?: true;
}

export interface ActionsLetterPayload {
  readonly kind: 'actions';
  readonly sink: string;
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly patterns: readonly string[];
  /** L1 channels that should hear about these actions again once they are applied. */
  readonly channels: readonly string[];
  readonly cdn: readonly CdnPurge[];
}

export type DeadLetterPayload = EventLetterPayload | ActionsLetterPayload;

/** One rule (or, with `rule` undefined, the whole rules stage) failed on one event. */
export function ruleFailureLetter(source: string, event: ChangeEvent, rule: string | undefined, err: unknown, at = new Date()): DeadLetter {
  const { json, cut } = eventToJson(event);
  const payload: EventLetterPayload = { kind: 'event', ...(rule !== undefined ? { rule } : {}), event: json, ...(cut ? { cut: true as const } : {}) };
  return { reason: `rules: ${rule !== undefined ? `rule ${rule}: ` : ''}${errorMessage(err)}`, source, position: event.position, payload, at: at.toISOString() };
}

/** A sink failed the whole batch for good: every action of the batch is dead-lettered. */
export function sinkFailureLetter(source: string, sink: string, batch: InvalidationBatch, err: unknown, at = new Date()): DeadLetter {
  const payload: ActionsLetterPayload = {
    kind: 'actions',
    sink,
    keys: [...batch.keys],
    tags: [...batch.tags],
    patterns: [...batch.patterns],
    channels: [...batch.channels.keys()],
    cdn: batch.cdn,
  };
  return { reason: `${sink}: ${errorMessage(err)}`, source, position: batch.lastPosition, payload, at: at.toISOString() };
}

/**
 * Actions a sink rejected one by one (SinkApplyResult.rejected): one letter per distinct
 * reason, holding just those actions, and the L1 channels that carried them.
 */
export function rejectedLetters(source: string, sink: string, batch: InvalidationBatch, rejected: readonly RejectedAction[], at = new Date()): DeadLetter[] {
  const byReason = new Map<string, RejectedAction[]>();
  for (const r of rejected) {
    const list = byReason.get(r.reason);
    if (list) list.push(r);
    else byReason.set(r.reason, [r]);
  }
  return [...byReason].map(([reason, actions]) => {
    const of = (kind: RejectedAction['kind']) => actions.filter((a) => a.kind === kind).map((a) => a.value);
    const keys = of('key');
    const tags = of('tag');
    const patterns = of('pattern');
    const channels = new Set(of('channel'));
    for (const [channel, p] of batch.channels) {
      if (keys.some((k) => p.keys.has(k)) || tags.some((t) => p.tags.has(t)) || patterns.some((x) => p.patterns.has(x))) channels.add(channel);
    }
    // A rejected channel is re-sent with what it should have carried.
    for (const channel of of('channel')) {
      const p = batch.channels.get(channel);
      if (!p) continue;
      for (const k of p.keys) if (!keys.includes(k)) keys.push(k);
      for (const t of p.tags) if (!tags.includes(t)) tags.push(t);
      for (const x of p.patterns) if (!patterns.includes(x)) patterns.push(x);
    }
    const cdnValues = new Set(of('cdn'));
    const payload: ActionsLetterPayload = {
      kind: 'actions',
      sink,
      keys,
      tags,
      patterns,
      channels: [...channels],
      cdn: batch.cdn.filter((c) => cdnValues.has(c.value)),
    };
    return { reason: `${sink}: ${reason}`, source, position: batch.lastPosition, payload, at: at.toISOString() };
  });
}

/** The event as `parseEventJson` reads it; values deeper than MAX_PAYLOAD_DEPTH are cut. */
export function eventToJson(event: ChangeEvent): { json: EventJson; cut: boolean } {
  const state = { cut: false };
  const unknown: string[] = [];
  const side = (name: 'before' | 'after', row: Row | undefined): Record<string, unknown> | undefined => {
    if (!row) return undefined;
    const out: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(row)) {
      if (isUnknown(value)) unknown.push(`${name}.${column}`);
      else out[column] = bounded(value, 1, state);
    }
    return out;
  };
  const before = side('before', event.before);
  const after = side('after', event.after);
  const json: EventJson = {
    op: event.op,
    schema: event.schema,
    table: event.table,
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
    ...(unknown.length ? { unknown } : {}),
    ...(event.keyColumns ? { keyColumns: event.keyColumns } : {}),
    commitTime: event.commitTimeMs,
    position: event.position,
    ...(event.txId ? { txId: event.txId } : {}),
    ...(event.explicit ? { explicit: event.explicit } : {}),
  };
  return { json, cut: state.cut };
}

function bounded(value: unknown, depth: number, state: { cut: boolean }): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (depth > MAX_PAYLOAD_DEPTH) {
    state.cut = true;
    return CUT;
  }
  if (Array.isArray(value)) return value.map((v) => bounded(v, depth + 1, state));
  if (value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = bounded(v, depth + 1, state);
  return out;
}

/**
 * Reads a stored payload back: the two kinds above, and the shapes written before they had
 * a `kind` (a bare event; `{ sink, keys, tags, patterns, cdn }`). Anything else (e.g. a
 * source's undecodable message) is `undefined`: it cannot be re-applied.
 */
export function readDeadLetterPayload(payload: unknown): DeadLetterPayload | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  if (p.kind === 'event' && isObject(p.event)) return payload as EventLetterPayload;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  if (p.kind === 'actions' || (p.kind === undefined && typeof p.sink === 'string' && ('keys' in p || 'tags' in p || 'patterns' in p || 'cdn' in p))) {
    return {
      kind: 'actions',
      sink: typeof p.sink === 'string' ? p.sink : '',
      keys: strings(p.keys),
      tags: strings(p.tags),
      patterns: strings(p.patterns),
      channels: strings(p.channels),
      cdn: Array.isArray(p.cdn) ? (p.cdn.filter(isObject) as unknown as CdnPurge[]) : [],
    };
  }
  if (p.kind === undefined && typeof p.op === 'string' && (typeof p.table === 'string' || p.op === 'message')) {
    const { commitTimeMs, ...rest } = p;
    return { kind: 'event', event: { ...(rest as unknown as EventJson), ...(typeof commitTimeMs === 'number' ? { commitTime: commitTimeMs } : {}) } };
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
