import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { tagSetKey } from '@cdc/protocol';

/**
 * Does in tests what the worker does per CLIENT-PROTOCOL.md: UNLINK keys with their leases,
 * tag members with theirs, then publish a v2 L1 message with the next seq of its stream.
 */
export class FakeWorker {
  readonly stream = randomUUID();
  private seq = 0;

  constructor(
    private readonly redis: Redis | Cluster,
    readonly channel: string,
  ) {}

  async invalidate(what: { keys?: string[]; tags?: string[]; patterns?: string[] }, publish = true): Promise<void> {
    const keys = [...(what.keys ?? [])];
    for (const tag of what.tags ?? []) {
      const members = await this.redis.smembers(tagSetKey(tag));
      keys.push(...members);
      if (members.length > 0) {
        for (const m of members) await this.redis.unlink(m);
        await this.redis.srem(tagSetKey(tag), ...members);
      }
    }
    // Plain UNLINKs, as the worker sends by default: deleting k revokes the lease held in k.
    for (const k of keys) await this.redis.unlink(k);
    if (publish) await this.publish(what);
  }

  /** Publishes an invalidate message (taking the next seq) without touching L2. */
  async publish(what: { keys?: string[]; tags?: string[]; patterns?: string[] }): Promise<void> {
    this.seq++;
    await this.redis.publish(this.channel, JSON.stringify(this.message(what)));
  }

  /** Takes a seq without publishing it: the message is "lost". */
  lose(): void {
    this.seq++;
  }

  async heartbeat(): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ v: 2, type: 'heartbeat', stream: this.stream, seq: this.seq, channel: this.channel, publishedAt: new Date().toISOString() }));
  }

  private message(what: { keys?: string[]; tags?: string[]; patterns?: string[] }): object {
    return {
      v: 2,
      type: 'invalidate',
      stream: this.stream,
      seq: this.seq,
      id: randomUUID(),
      source: 'test',
      channel: this.channel,
      position: '0/0',
      commitTime: null,
      publishedAt: new Date().toISOString(),
      part: 1,
      parts: 1,
      keys: what.keys ?? [],
      tags: what.tags ?? [],
      patterns: what.patterns ?? [],
    };
  }
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls until the predicate holds (tests never assert timings; this only bounds a wait). */
export async function eventually(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
