import { RESERVED_PREFIX } from '@cdc/protocol';
import { RedisClient, connectRedis } from '@cdc/sink-redis';
import { SlotRecord, SlotRecordStore } from '@cdc/source-postgres';
import { toRedisSinkError } from '@cdc/sink-redis';

/**
 * The slot record (see @cdc/source-postgres slot-record.ts) as a Redis hash `cdc:slot:<slot>`,
 * under the reserved prefix that no pattern delete touches. Redis, because the worker needs
 * it anyway and it is the one store the worker owns; a Redis that lost its data loses the
 * record too, and the next start treats the slot as new (documented in docs/postgres-source.md).
 */
export class RedisSlotRecordStore implements SlotRecordStore {
  constructor(private readonly client: RedisClient) {}

  where(slot: string): string {
    return `Redis key ${this.key(slot)}`;
  }

  async read(slot: string): Promise<SlotRecord | undefined> {
    const h = await this.run('reading the slot record', () => this.client.hgetall(this.key(slot)));
    if (!h.slot || !h.database || !h.confirmedLsn) return undefined;
    return {
      slot: h.slot,
      systemIdentifier: h.systemIdentifier || undefined,
      database: h.database,
      firstSeenLsn: h.firstSeenLsn ?? h.confirmedLsn,
      firstSeenAt: h.firstSeenAt ?? '',
      confirmedLsn: h.confirmedLsn,
      updatedAt: h.updatedAt ?? '',
    };
  }

  async write(record: SlotRecord): Promise<void> {
    const fields = Object.entries(record).filter(([, v]) => v !== undefined) as Array<[string, string]>;
    await this.run('writing the slot record', () => this.client.hset(this.key(record.slot), Object.fromEntries(fields)));
  }

  async remove(slot: string): Promise<void> {
    await this.run('removing the slot record', () => this.client.del(this.key(slot)));
  }

  private key(slot: string): string {
    return `${RESERVED_PREFIX}slot:${slot}`;
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await connectRedis(this.client);
    try {
      return await fn();
    } catch (err) {
      throw toRedisSinkError(err, what);
    }
  }
}
