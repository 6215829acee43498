/**
 * L1 message version 2 (CLIENT-PROTOCOL.md): the v1 invalidation fields plus a
 * `stream` (random id per publishing worker process) and a per (stream, channel) `seq`,
 * and heartbeats that carry the current last seq, so a subscriber can see a gap.
 * `parseL1Message` is the one validator subscribers use; it never throws.
 */

import { L1InvalidationMessage } from './l1-message';

export const L1_MESSAGE_VERSION_2 = 2;

interface L1V2Common {
  readonly v: typeof L1_MESSAGE_VERSION_2;
  /** Random id (UUID) chosen by the publishing worker process at start. */
  readonly stream: string;
  /** Per (stream, channel) sequence: invalidate messages take the next one (from 1), heartbeats carry the last. */
  readonly seq: number;
  readonly channel: string;
  readonly publishedAt: string;
}

export interface L1InvalidateMessageV2 extends L1V2Common, Omit<L1InvalidationMessage, 'v'> {
  readonly type: 'invalidate';
}

export interface L1HeartbeatMessageV2 extends L1V2Common {
  readonly type: 'heartbeat';
}

export type L1MessageV2 = L1InvalidateMessageV2 | L1HeartbeatMessageV2;

/** What a subscriber makes of one raw channel message. */
export type ParsedL1Message =
  | { readonly kind: 'v1'; readonly message: L1InvalidationMessage }
  | { readonly kind: 'v2'; readonly message: L1MessageV2 }
  | { readonly kind: 'unknown-version'; readonly v: unknown }
  | { readonly kind: 'invalid'; readonly reason: string };

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1;
}

/** Fields a subscriber acts on; tracing fields (position, commitTime, ...) are not required to evict. */
function invalidationProblem(m: Record<string, unknown>): string | undefined {
  if (!isStringArray(m.keys)) return 'keys must be an array of strings';
  if (!isStringArray(m.tags)) return 'tags must be an array of strings';
  if (!isStringArray(m.patterns)) return 'patterns must be an array of strings';
  return undefined;
}

/** Parses and checks one message; unknown versions and malformed input are reported, never thrown. */
export function parseL1Message(raw: string | Buffer): ParsedL1Message {
  let m: unknown;
  try {
    m = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return { kind: 'invalid', reason: 'not a JSON object' };
  const o = m as Record<string, unknown>;
  if (o.v === 1) {
    const problem = invalidationProblem(o);
    return problem ? { kind: 'invalid', reason: problem } : { kind: 'v1', message: o as unknown as L1InvalidationMessage };
  }
  if (o.v !== L1_MESSAGE_VERSION_2) return { kind: 'unknown-version', v: o.v };
  if (typeof o.stream !== 'string' || o.stream.length === 0) return { kind: 'invalid', reason: 'stream must be a non-empty string' };
  if (o.type === 'heartbeat') {
    // A heartbeat before the first invalidate of a stream carries seq 0.
    if (typeof o.seq !== 'number' || !Number.isInteger(o.seq) || o.seq < 0) return { kind: 'invalid', reason: 'seq must be an integer >= 0' };
    return { kind: 'v2', message: o as unknown as L1HeartbeatMessageV2 };
  }
  if (o.type !== 'invalidate') return { kind: 'invalid', reason: 'type must be "invalidate" or "heartbeat"' };
  if (!isPositiveInt(o.seq)) return { kind: 'invalid', reason: 'seq must be an integer >= 1' };
  const problem = invalidationProblem(o);
  return problem ? { kind: 'invalid', reason: problem } : { kind: 'v2', message: o as unknown as L1InvalidateMessageV2 };
}

/** The version-2 form of an invalidation, once the publisher has numbered it in its stream. */
export function sequenced(message: L1InvalidationMessage, stream: string, seq: number): L1InvalidateMessageV2 {
  const { v: _v, ...body } = message;
  return { v: 2, type: 'invalidate', stream, seq, ...body };
}

/** A heartbeat: the channel's last seq in the stream (0 before its first invalidation), taking none. */
export function buildL1Heartbeat(stream: string, channel: string, seq: number, publishedAtMs: number): L1HeartbeatMessageV2 {
  return { v: 2, type: 'heartbeat', stream, seq, channel, publishedAt: new Date(publishedAtMs).toISOString() };
}
