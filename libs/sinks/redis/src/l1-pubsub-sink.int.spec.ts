import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { L1HeartbeatMessageV2, L1InvalidateMessageV2, L1InvalidationMessage, L1MessageV2, parseL1Message } from '@cdc/protocol';

type L1Message = L1InvalidationMessage | L1MessageV2;
import { RedisServer, waitFor } from '@cdc/testing';
import { L1PubSubSink } from './l1-pubsub-sink';
import { RedisClient, createRedisClient } from './redis-client';
import { redisConfigFromEnv } from './redis-config';
import { l1MessageValidator } from './l1-schema.test-helper';
import { testBatch } from './sink-test-batch.test-helper';

/** Everything published on some channels, in arrival order, checked against the published schema. */
class Listener {
  readonly received: L1Message[] = [];
  readonly invalid: unknown[] = [];
  private readonly validate = l1MessageValidator();

  private constructor(readonly client: Redis) {}

  static async on(server: RedisServer, ...channels: string[]): Promise<Listener> {
    const client = server.client();
    client.on('error', () => undefined);
    const l = new Listener(client);
    client.on('message', (_channel: string, text: string) => {
      const m = JSON.parse(text) as L1Message;
      if (!l.validate(m)) l.invalid.push({ m, errors: l.validate.errors });
      // ... and accepted by the parser the client library's subscriber uses.
      const parsed = parseL1Message(text);
      if (parsed.kind !== (m.v === 1 ? 'v1' : 'v2')) l.invalid.push({ m, parsed });
      l.received.push(m);
    });
    await client.subscribe(...channels);
    return l;
  }

  invalidations(channel?: string): L1InvalidateMessageV2[] {
    return this.received.filter((m): m is L1InvalidateMessageV2 => m.v === 2 && m.type === 'invalidate' && (!channel || m.channel === channel));
  }

  heartbeats(channel?: string): L1HeartbeatMessageV2[] {
    return this.received.filter((m): m is L1HeartbeatMessageV2 => m.v === 2 && m.type === 'heartbeat' && (!channel || m.channel === channel));
  }

  close(): void {
    this.client.disconnect();
  }
}

describe('L1PubSubSink version 2 against a real redis-server', () => {
  let server: RedisServer;
  let client: RedisClient;

  before(async () => {
    server = await RedisServer.start();
    client = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
  });

  after(async () => {
    client?.disconnect();
    await server?.destroy();
  });

  it('numbers messages per channel from 1, each part taking the next seq, all valid against the schema', async () => {
    const sink = new L1PubSubSink({ client, source: 'postgres', maxItemsPerMessage: 2, heartbeatIntervalMs: 0 });
    await sink.start();
    const l = await Listener.on(server, 'seq:a', 'seq:b');
    try {
      await sink.apply(testBatch({ keys: ['k1', 'k2', 'k3'], channels: ['seq:a', 'seq:b'], position: '0/1' }));
      await sink.apply(testBatch({ keys: ['k4'], channels: ['seq:a'], position: '0/2' }));
      await waitFor('5 messages', async () => l.received.length === 5);
      assert.deepEqual(
        l.invalidations().map((m) => [m.channel, m.seq, m.part, m.parts, m.position]),
        [
          ['seq:a', 1, 1, 2, '0/1'],
          ['seq:a', 2, 2, 2, '0/1'],
          ['seq:b', 1, 1, 2, '0/1'],
          ['seq:b', 2, 2, 2, '0/1'],
          ['seq:a', 3, 1, 1, '0/2'],
        ],
      );
      assert.ok(l.invalidations().every((m) => m.stream === sink.stream));
      assert.deepEqual(l.invalid, []);
    } finally {
      l.close();
      await sink.stop();
    }
  });

  it('beats on configured and seen channels when idle, with the last seq, and stops with the sink', async () => {
    const sink = new L1PubSubSink({ client, source: 'postgres', heartbeatIntervalMs: 100, channels: () => ['hb:configured'] });
    const l = await Listener.on(server, 'hb:configured', 'hb:seen');
    try {
      await sink.start();
      await waitFor('a heartbeat on the configured channel', async () => l.heartbeats('hb:configured').length > 0);
      assert.deepEqual(
        (({ v, type, stream, seq, channel }) => ({ v, type, stream, seq, channel }))(l.heartbeats('hb:configured')[0]),
        { v: 2, type: 'heartbeat', stream: sink.stream, seq: 0, channel: 'hb:configured' },
      );
      await sink.apply(testBatch({ keys: ['x'], channels: ['hb:seen'] }));
      await sink.apply(testBatch({ keys: ['y'], channels: ['hb:seen'] }));
      await waitFor('a heartbeat after the invalidations', async () => l.heartbeats('hb:seen').length > 0);
      assert.equal(l.heartbeats('hb:seen')[0].seq, 2, 'a heartbeat carries the last seq, it does not take one');
      await waitFor('several beats', async () => l.heartbeats('hb:configured').length >= 3);
      assert.ok(l.heartbeats().every((h) => h.stream === sink.stream));
      await sink.stop();
      await new Promise((r) => setTimeout(r, 50)); // a beat already sent may still arrive
      const count = l.received.length;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(l.received.length, count, 'no heartbeat after stop()');
      assert.deepEqual(l.invalid, []);
    } finally {
      l.close();
      await sink.stop();
    }
  });

  it('never announces in a heartbeat a seq whose invalidation has not arrived yet, under concurrent publishing', async () => {
    const sink = new L1PubSubSink({ client, source: 'postgres', heartbeatIntervalMs: 10, maxItemsPerMessage: 1 });
    const l = await Listener.on(server, 'race:a', 'race:b');
    try {
      await sink.start();
      const deadline = Date.now() + 1000;
      let n = 0;
      let published = 0;
      while (Date.now() < deadline) {
        n++;
        const channels = n % 3 === 0 ? ['race:a', 'race:b'] : ['race:a'];
        await sink.apply(testBatch({ keys: [`k${n}`, `j${n}`], channels }));
        published += 2 * channels.length;
        await new Promise((r) => setTimeout(r, n % 5)); // idle gaps of 0-4 ms let heartbeats in between
      }
      await waitFor('every invalidation', async () => l.invalidations().length === published);
      await sink.stop();
      for (const channel of ['race:a', 'race:b']) {
        let last = 0;
        for (const m of l.received) {
          if (m.v !== 2 || m.channel !== channel) continue;
          if (m.type === 'invalidate') {
            assert.equal(m.seq, last + 1, `${channel}: no gap, no reorder`);
            last = m.seq;
          } else assert.ok(m.seq <= last, `${channel}: heartbeat seq ${m.seq} announced before invalidation ${m.seq} arrived`);
        }
      }
      assert.ok(l.heartbeats().length > 0, 'heartbeats were interleaved');
    } finally {
      l.close();
      await sink.stop();
    }
  });

  it('a restart starts a new stream at seq 1', async () => {
    const sink = new L1PubSubSink({ client, source: 'postgres', heartbeatIntervalMs: 0 });
    const l = await Listener.on(server, 'restart:a');
    try {
      await sink.start();
      await sink.apply(testBatch({ keys: ['a'], channels: ['restart:a'] }));
      await sink.apply(testBatch({ keys: ['b'], channels: ['restart:a'] }));
      await sink.stop();
      await sink.start();
      await sink.apply(testBatch({ keys: ['c'], channels: ['restart:a'] }));
      // A second worker process is a second sink: its own stream too.
      const other = new L1PubSubSink({ client, source: 'postgres', heartbeatIntervalMs: 0 });
      await other.start();
      await other.apply(testBatch({ keys: ['d'], channels: ['restart:a'] }));
      await waitFor('4 messages', async () => l.received.length === 4);
      const ms = l.invalidations();
      assert.deepEqual(ms.map((m) => m.seq), [1, 2, 1, 1]);
      assert.equal(ms[0].stream, ms[1].stream);
      assert.equal(new Set(ms.map((m) => m.stream)).size, 3, 'each start and each process has its own stream');
      await other.stop();
    } finally {
      l.close();
      await sink.stop();
    }
  });

  it('version 1 publishes the version-1 messages and no heartbeats, for subscribers not yet migrated', async () => {
    const sink = new L1PubSubSink({ client, source: 'postgres', messageVersion: 1, heartbeatIntervalMs: 20, channels: () => ['v1:a'] });
    const l = await Listener.on(server, 'v1:a');
    try {
      await sink.start();
      await sink.apply(testBatch({ keys: ['a'], channels: ['v1:a'] }));
      await waitFor('the message', async () => l.received.length > 0);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(l.received.length, 1, 'no heartbeat in version 1');
      const [m] = l.received;
      assert.equal(m.v, 1);
      assert.ok(!('seq' in m) && !('stream' in m));
      assert.deepEqual(l.invalid, []);
    } finally {
      l.close();
      await sink.stop();
    }
  });
});
