/**
 * The L1 eviction message: what an application's in-process cache hears on Redis
 * pub/sub after the L2 deletes are confirmed. Versioned; the JSON Schema is
 * docs/pubsub-message.schema.json and the guide docs/pubsub.md. Pure: no I/O here.
 * Version 1 is built here; version 2 (l1-message-v2.ts) wraps it with a stream and a
 * seq (`sequenced`) and adds heartbeats (`buildL1Heartbeat`); that file imports this one, never the reverse.
 */
export const L1_MESSAGE_VERSION = 1;

export interface L1InvalidationMessage {
  /** Schema version. Consumers must ignore messages with a `v` they do not know. */
  readonly v: typeof L1_MESSAGE_VERSION;
  /** Identifies one channel's invalidation in one batch; the parts of a split message share it. `(id, part)` is unique. */
  readonly id: string;
  /** Which source produced the changes ('postgres', 'kafka', ...). */
  readonly source: string;
  /** The pub/sub channel the message was published on. */
  readonly channel: string;
  /** Source position (LSN, topic/partition/offset) of the last change covered; opaque, for tracing. */
  readonly position: string;
  /** Commit time of the last transaction covered (ISO 8601), or null when unknown. */
  readonly commitTime: string | null;
  /** When the message was published (ISO 8601). */
  readonly publishedAt: string;
  /** 1-based part number and total parts: a large payload is split into bounded messages. */
  readonly part: number;
  readonly parts: number;
  /** Exact cache keys to evict. */
  readonly keys: readonly string[];
  /** Tags: evict every entry carrying one of them. */
  readonly tags: readonly string[];
  /** Redis-style glob patterns (`*`, `?`, `[...]`, `\` escapes): evict every key matching one. */
  readonly patterns: readonly string[];
}

export interface L1Payload {
  readonly keys: Iterable<string>;
  readonly tags: Iterable<string>;
  readonly patterns: Iterable<string>;
}

export interface L1MessageContext {
  readonly id: string;
  readonly source: string;
  readonly channel: string;
  readonly position: string;
  /** Milliseconds since the epoch; not finite or <= 0 means unknown. */
  readonly commitTimeMs: number;
  readonly publishedAtMs: number;
}

/**
 * Builds the messages for one channel: at most `maxItemsPerMessage` keys + tags +
 * patterns in each, filled in that order. An empty payload yields no message.
 */
export function buildL1Messages(payload: L1Payload, ctx: L1MessageContext, maxItemsPerMessage: number): L1InvalidationMessage[] {
  if (!Number.isInteger(maxItemsPerMessage) || maxItemsPerMessage < 1) {
    throw new RangeError(`maxItemsPerMessage must be a positive integer, got ${maxItemsPerMessage}`);
  }
  type Kind = 'keys' | 'tags' | 'patterns';
  const bodies: Array<Record<Kind, string[]>> = [];
  let current: Record<Kind, string[]> | undefined;
  let count = 0;
  const add = (kind: Kind, item: string): void => {
    if (!current || count === maxItemsPerMessage) {
      current = { keys: [], tags: [], patterns: [] };
      bodies.push(current);
      count = 0;
    }
    current[kind].push(item);
    count++;
  };
  for (const k of payload.keys) add('keys', k);
  for (const t of payload.tags) add('tags', t);
  for (const p of payload.patterns) add('patterns', p);

  const commitTime = Number.isFinite(ctx.commitTimeMs) && ctx.commitTimeMs > 0 ? new Date(ctx.commitTimeMs).toISOString() : null;
  const publishedAt = new Date(ctx.publishedAtMs).toISOString();
  return bodies.map((body, i) => ({
    v: L1_MESSAGE_VERSION,
    id: ctx.id,
    source: ctx.source,
    channel: ctx.channel,
    position: ctx.position,
    commitTime,
    publishedAt,
    part: i + 1,
    parts: bodies.length,
    keys: body.keys,
    tags: body.tags,
    patterns: body.patterns,
  }));
}
