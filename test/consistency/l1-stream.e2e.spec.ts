import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { SeqVerdict, StreamTracker } from '@cdc/cache-client';
import { L1MessageV2, parseL1Message } from '@cdc/protocol';
import { waitFor } from '@cdc/testing';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

const RULES = `
version: 1
defaults:
  channels: ["l1:items"]
rules:
  - name: item
    table: public.items
    invalidate:
      keys: ["item:{id}"]
`;

/**
 * The real worker's v2 stream as a subscriber sees it: seq per channel from 1, heartbeats
 * repeating the last seq while idle, and a restart (kill -9 or SIGTERM) starting a new
 * stream at 1 that the client library's gap detection adopts without a false alarm.
 */
describe('L1 stream of the real worker across restarts', { timeout: 120_000 }, () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let sub: Redis;
  const received: L1MessageV2[] = [];

  before(async () => {
    stack = await startStack('l1-stream', RULES, {
      setupSql: 'CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g;',
    });
    worker = new WorkerProcess(stack.workerEnv('l1_stream', { L1_HEARTBEAT_INTERVAL_MS: '200' }), join(stack.dir, 'worker.log'));
    sub = stack.redis.client();
    sub.on('message', (_c: string, text: string) => {
      const parsed = parseL1Message(text);
      assert.equal(parsed.kind, 'v2', text);
      if (parsed.kind === 'v2') received.push(parsed.message);
    });
    await sub.subscribe('l1:items');
  });

  after(async () => {
    sub?.disconnect();
    await worker?.terminate();
    await stack?.destroy();
  });

  const update = async (id: number) => {
    const before = received.filter((m) => m.type === 'invalidate').length;
    await stack.pg.query('UPDATE items SET v = v + 1 WHERE id = $1', [id]);
    await waitFor(`the invalidation of item ${id}`, async () => received.filter((m) => m.type === 'invalidate').length > before, 20_000, 10);
  };
  const beat = async (stream: string) => {
    const n = received.length;
    await waitFor('a heartbeat', async () => received.slice(n).some((m) => m.type === 'heartbeat' && m.stream === stream), 10_000, 10);
  };

  it('numbers invalidations from 1, beats with the last seq, and starts a new stream at 1 after kill -9 and after SIGTERM', async () => {
    await worker.start();
    await waitFor('the first heartbeat', async () => received.some((m) => m.type === 'heartbeat'), 10_000, 10);
    const first = received[0].stream;
    assert.equal(received[0].seq, 0, 'a heartbeat before any invalidation carries seq 0');
    for (const id of [1, 2, 3]) await update(id);
    await beat(first);

    await worker.kill9();
    await worker.start();
    await update(4);
    const second = received.at(-1)!.stream;
    await beat(second);

    await worker.terminate();
    await worker.start();
    await update(5);
    const third = received.at(-1)!.stream;
    await beat(third);

    assert.equal(new Set([first, second, third]).size, 3, 'each worker run has its own stream');
    for (const stream of [first, second, third]) {
      const mine = received.filter((m) => m.stream === stream);
      const seqs = mine.filter((m) => m.type === 'invalidate').map((m) => m.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `stream ${stream}: invalidations numbered from 1 without a hole`);
      let last = 0;
      for (const m of mine) {
        if (m.type === 'invalidate') last = m.seq;
        else assert.equal(m.seq, last, 'a heartbeat carries the last seq');
      }
    }
    // The client library's gap detection, fed what a subscriber heard: no false alarm across restarts.
    const tracker = new StreamTracker();
    tracker.reset('l1:items');
    const verdicts: SeqVerdict[] = received.map((m) => tracker.observe('l1:items', m.stream, m.seq, m.type));
    assert.deepEqual(
      verdicts.filter((v) => v === 'gap'),
      [],
      received.map((m, i) => `${m.stream.slice(0, 8)} ${m.type} ${m.seq} ${verdicts[i]}`).join('\n'),
    );
  });
});
