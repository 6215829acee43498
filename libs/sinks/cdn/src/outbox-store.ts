import Redis, { Cluster } from 'ioredis';
import { OutboxConfig } from './cdn-config';
import { entryIdTimeMs } from './outbox-entry';

/** Standalone/Sentinel client or Cluster: the outbox works on both (see docs/cdn.md on hash tags). */
export type OutboxRedis = Redis | Cluster;

/** A raw stream entry: id and flat field list. */
export type RawEntry = [id: string, fields: string[]];

/**
 * All Redis Stream I/O of the outbox: the sink appends, the worker reads through the
 * consumer group, claims what dead workers left pending, acks (and deletes, so the stream
 * holds exactly what is not yet purged), and dead-letters. Blocking reads use their own
 * connection so they never stall the sink's writes on the shared client.
 */
export class OutboxStore {
  // Cluster exposes the same command methods as Redis; one type keeps the calls below simple.
  private readonly redis: Redis;
  private readonly blocking: Redis;

  constructor(
    redis: OutboxRedis,
    readonly names: Pick<OutboxConfig, 'stream' | 'deadLetterStream' | 'group' | 'consumer'>,
    blocking: OutboxRedis = redis,
  ) {
    this.redis = redis as Redis;
    this.blocking = blocking as Redis;
  }

  /** Creates the consumer group from the start of the stream (entries written before any worker ran are read). */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.names.stream, this.names.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test(String((err as Error)?.message))) throw err;
    }
  }

  /**
   * Appends entries atomically (MULTI). With `waitReplicas`, also waits for that many
   * replicas to acknowledge (Redis WAIT) and returns how many did.
   */
  async append(entries: readonly string[][], waitReplicas = 0, waitTimeoutMs = 1000): Promise<{ ids: string[]; replicas?: number }> {
    const tx = this.redis.multi();
    for (const fields of entries) tx.xadd(this.names.stream, '*', ...fields);
    const res = await tx.exec();
    const ids: string[] = [];
    for (const [err, id] of res ?? []) {
      if (err) throw err;
      ids.push(String(id));
    }
    if (waitReplicas > 0) {
      const replicas = Number(await this.redis.wait(waitReplicas, waitTimeoutMs));
      return { ids, replicas };
    }
    return { ids };
  }

  /** New entries for this consumer (`>`), blocking up to `blockMs`. */
  async readNew(count: number, blockMs: number): Promise<RawEntry[]> {
    const res = (await this.blocking.xreadgroup(
      'GROUP', this.names.group, this.names.consumer,
      'COUNT', count, 'BLOCK', blockMs,
      'STREAMS', this.names.stream, '>',
    )) as Array<[string, RawEntry[]]> | null;
    return res?.[0]?.[1] ?? [];
  }

  /** Entries this consumer name already owns (after a restart with a stable CDN_CONSUMER_NAME). */
  async readOwnPending(count: number, afterId = '0'): Promise<RawEntry[]> {
    const res = (await this.redis.xreadgroup(
      'GROUP', this.names.group, this.names.consumer,
      'COUNT', count,
      'STREAMS', this.names.stream, afterId,
    )) as Array<[string, RawEntry[]]> | null;
    return (res?.[0]?.[1] ?? []).filter(([, fields]) => fields !== null);
  }

  /** XAUTOCLAIM entries idle for at least `minIdleMs` (their worker died) into this consumer. */
  async claimIdle(minIdleMs: number, cursor: string, count: number): Promise<{ next: string; entries: RawEntry[] }> {
    const res = (await this.redis.xautoclaim(this.names.stream, this.names.group, this.names.consumer, minIdleMs, cursor, 'COUNT', count)) as [
      string,
      Array<RawEntry | null>,
      ...unknown[],
    ];
    const entries = (res[1] ?? []).filter((e): e is RawEntry => Array.isArray(e) && Array.isArray(e[1]));
    return { next: res[0], entries };
  }

  /** Resets the idle time of entries still being worked on, so no other worker claims them. */
  async touch(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.redis.xclaim(this.names.stream, this.names.group, this.names.consumer, 0, ...ids.slice(i, i + 500), 'JUSTID');
    }
  }

  /** Acks and deletes purged entries in one transaction. */
  async ackAndDelete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const tx = this.redis.multi();
    tx.xack(this.names.stream, this.names.group, ...ids);
    tx.xdel(this.names.stream, ...ids);
    await tx.exec();
  }

  /** Moves entries to the dead-letter stream (with the reason) and acks them, atomically. */
  async deadLetter(letters: ReadonlyArray<{ id: string; fields: readonly string[]; error: string; attempts: number }>): Promise<void> {
    if (letters.length === 0) return;
    const tx = this.redis.multi();
    for (const l of letters) {
      tx.xadd(this.names.deadLetterStream, '*', ...l.fields, 'originalId', l.id, 'error', l.error, 'attempts', String(l.attempts), 'failedAtMs', String(Date.now()));
    }
    const ids = letters.map((l) => l.id);
    tx.xack(this.names.stream, this.names.group, ...ids);
    tx.xdel(this.names.stream, ...ids);
    const res = await tx.exec();
    for (const [err] of res ?? []) if (err) throw err;
  }

  /** Entries not yet purged, and the age of the oldest one in ms (0 when empty). */
  async backlog(now = Date.now()): Promise<{ depth: number; oldestAgeMs: number }> {
    const [depth, first] = await Promise.all([
      this.redis.xlen(this.names.stream),
      this.redis.xrange(this.names.stream, '-', '+', 'COUNT', 1),
    ]);
    const oldest = first[0]?.[0];
    return { depth, oldestAgeMs: oldest ? Math.max(0, now - entryIdTimeMs(oldest)) : 0 };
  }

  /** Ends the blocking-read connection (when it is not the shared one) so a pending read returns. */
  closeBlocking(): void {
    if (this.blocking !== this.redis) this.blocking.disconnect();
  }

  /** Pending (delivered, not acked) entries in the group. */
  async pendingCount(): Promise<number> {
    const res = (await this.redis.xpending(this.names.stream, this.names.group)) as [number, ...unknown[]];
    return Number(res[0] ?? 0);
  }
}
