import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { KafkaServer, PostgresServer, RedisServer, waitFor } from '@cdc/testing';
import { committedOffsets, endOffsets, produce, updates } from '../support/debezium-fixtures';
import { cliPath } from '../support/worker-process';

/**
 * `backfill postgres` and `replay kafka` through the real CLI (child processes) against a
 * real Postgres, Redis and Kafka: what they delete, what a dry run leaves alone, --where,
 * resume after kill -9, and that a replay never moves the live consumer group.
 */
const ITEMS = 2000;
const CATEGORIES = 20;
const ORDERS = 100;
const ORDER_UPDATES = 400;
const TOPIC = 'cdc.public.orders';

const RULES = `
version: 1
rules:
  - name: item
    table: public.items
    invalidate:
      keys: ["item:{id}", "item:slug:{slug}"]
      tags: ["category-{category_id}"]
      channels: ["l1:items"]
  - name: order
    table: public.orders
    on: [update]
    invalidate:
      keys: ["order:{id}"]
      tags: ["order-{id}"]
`;

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

function spawnCli(args: string[], env: Record<string, string>): { proc: ChildProcess; done: Promise<CliResult> } {
  const proc = spawn(process.execPath, [cliPath(), ...args], { env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<CliResult>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, out, err })));
  return { proc, done };
}

/** The `--json` summary line (log lines may share stdout). */
function jsonSummary(out: string): Record<string, any> {
  const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"command"'));
  assert.ok(line, `no JSON summary in:\n${out}`);
  return JSON.parse(line);
}

describe('replay and backfill through the CLI', { timeout: 180_000 }, () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let kafka: KafkaServer;
  let r: Redis;
  let dir: string;
  let env: Record<string, string>;
  const live: Record<string, string> = {};

  async function seedItems(): Promise<void> {
    const p = r.pipeline();
    for (let id = 1; id <= ITEMS; id++) p.set(`item:${id}`, 'cached').set(`item:slug:s-${id}`, 'cached');
    for (let c = 0; c < CATEGORIES; c++) p.set(`page:category:${c}`, 'cached').sadd(`cdc:tag:category-${c}`, `page:category:${c}`);
    await p.exec();
  }

  async function countExisting(keys: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < keys.length; i += 500) n += await r.exists(...keys.slice(i, i + 500));
    return n;
  }

  const itemKeys = (pred: (id: number) => boolean = () => true): string[] =>
    Array.from({ length: ITEMS }, (_, i) => i + 1)
      .filter(pred)
      .flatMap((id) => [`item:${id}`, `item:slug:s-${id}`]);

  before(async () => {
    [pg, redis, kafka] = await Promise.all([PostgresServer.start(), RedisServer.start(), KafkaServer.start({ heap: '384m' })]);
    r = redis.client();
    dir = mkdtempSync(join(tmpdir(), 'cdc-replay-backfill-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    await pg.query(`
      CREATE TABLE items (id int PRIMARY KEY, slug text NOT NULL, category_id int NOT NULL);
      INSERT INTO items SELECT g, 's-' || g, g % ${CATEGORIES} FROM generate_series(1, ${ITEMS}) g;
      ANALYZE items;
    `);
    await kafka.createTopic(TOPIC, 4);
    await produce(kafka.client(), TOPIC, updates('orders', ORDER_UPDATES, ORDERS));
    // A live group that has committed part of the topic; replays must leave it exactly there.
    const admin = kafka.client().admin();
    await admin.connect();
    await admin.setOffsets({ groupId: 'live', topic: TOPIC, partitions: [0, 1, 2, 3].map((partition) => ({ partition, offset: '5' })) });
    await admin.disconnect();
    Object.assign(live, await committedOffsets(kafka.client(), 'live', TOPIC));
    env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      RULES_FILE: join(dir, 'rules.yaml'),
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_TOPICS: TOPIC,
      KAFKA_TOPIC_PREFIX: 'cdc',
      KAFKA_GROUP_ID: 'live',
    };
  });

  after(async () => {
    r?.disconnect();
    await Promise.all([kafka?.destroy(), redis?.destroy(), pg?.destroy()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('backfill postgres', () => {
    it('--dry-run prints what would be invalidated, deletes nothing and saves no cursor', async () => {
      await seedItems();
      const res = await spawnCli(['backfill', 'postgres', '--table', 'public.items', '--dry-run', '--batch-size', '300'], env).done;
      assert.equal(res.code, 0, res.err + res.out);
      assert.match(res.out, new RegExp(`backfill postgres public\\.items \\(dry run\\): ${ITEMS} rows in 7 pages`));
      assert.match(res.out, /would invalidate \(counts include repeats/);
      assert.match(res.out, new RegExp(`keys +${ITEMS * 2}  e\\.g\\. item:1  item:slug:s-1`));
      assert.match(res.out, new RegExp(`tags +${ITEMS}  e\\.g\\. category-1`));
      assert.match(res.out, /dry run: nothing was invalidated/);
      assert.equal(await countExisting(itemKeys()), ITEMS * 2);
      assert.equal(await r.exists('page:category:3'), 1);
      assert.deepEqual(await r.keys('cdc:backfill:*'), []);
    });

    it('--where only invalidates the matching rows', async () => {
      const res = await spawnCli(['backfill', 'postgres', '--table', 'public.items', '--where', 'id % 2 = 0', '--json'], env).done;
      assert.equal(res.code, 0, res.err + res.out);
      const s = jsonSummary(res.out);
      assert.equal(s.rows, ITEMS / 2);
      assert.equal(s.completed, true);
      assert.equal(s.actions.keys.count, ITEMS);
      assert.equal(await countExisting(itemKeys((id) => id % 2 === 0)), 0, 'even rows invalidated');
      assert.equal(await countExisting(itemKeys((id) => id % 2 === 1)), ITEMS, 'odd rows untouched');
      // Even ids carry the even categories only (id % 20).
      assert.equal(await r.exists('page:category:4'), 0);
      assert.equal(await r.exists('page:category:3'), 1);
    });

    it('deletes the keys and tagged keys of every row, publishes L1 messages, and forgets its cursor', async () => {
      await seedItems();
      const sub = redis.client();
      const l1: Array<{ keys: string[]; tags: string[] }> = [];
      sub.on('message', (_channel: string, message: string) => {
        const m = JSON.parse(message);
        if (m.type !== 'heartbeat') l1.push(m); // the channel also carries heartbeats when idle
      });
      await sub.subscribe('l1:items');
      try {
        const res = await spawnCli(['backfill', 'postgres', '--table', 'public.items', '--batch-size', '500'], env).done;
        assert.equal(res.code, 0, res.err + res.out);
        assert.match(res.out, new RegExp(`public\\.items: ${ITEMS} rows in 4 pages, .* completed`));
        assert.match(res.out, new RegExp(`\\n  invalidated \\(.*\\n    keys +${ITEMS * 2} `));
        assert.equal(await countExisting(itemKeys()), 0);
        for (let c = 0; c < CATEGORIES; c++) assert.equal(await r.exists(`page:category:${c}`, `cdc:tag:category-${c}`), 0);
        await waitFor('L1 messages', async () => l1.some((m) => m.keys.includes(`item:${ITEMS}`)));
        // A 500-row page is 1,020 items: split into parts, so keys and tags may be in different messages.
        assert.ok(l1.some((m) => m.keys.includes('item:1')));
        assert.ok(l1.some((m) => m.tags.includes('category-1')));
        assert.deepEqual(await r.keys('cdc:backfill:*'), [], 'a completed backfill clears its cursor');
      } finally {
        sub.disconnect();
      }
    });

    it('resumes from its cursor after kill -9 and completes', async () => {
      await seedItems();
      const first = spawnCli(['backfill', 'postgres', '--table', 'public.items', '--batch-size', '50', '--rate', '400'], env);
      let cursorKey = '';
      try {
        await waitFor(
          'a saved cursor past 300 rows',
          async () => {
            [cursorKey] = await r.keys('cdc:backfill:public.items:*');
            if (!cursorKey) return false;
            return (JSON.parse((await r.get(cursorKey)) ?? '{}') as { done?: number }).done! >= 300;
          },
          30_000,
        );
      } finally {
        first.proc.kill('SIGKILL');
      }
      const killed = await first.done;
      assert.equal(killed.signal, 'SIGKILL');
      const cursor = JSON.parse((await r.get(cursorKey))!) as { after: number[]; done: number };
      assert.ok(cursor.done < ITEMS, `killed mid-way (cursor at ${cursor.done})`);
      assert.equal(await countExisting(itemKeys((id) => id <= cursor.after[0])), 0, 'rows up to the cursor were invalidated before it was saved');
      assert.ok((await countExisting(itemKeys((id) => id > cursor.after[0]))) > 0, 'rows after the cursor are still to do');

      const res = await spawnCli(['backfill', 'postgres', '--table', 'public.items', '--batch-size', '200', '--json'], env).done;
      assert.equal(res.code, 0, res.err + res.out);
      const s = jsonSummary(res.out);
      assert.deepEqual(s.resumedFrom, cursor.after);
      assert.equal(s.rows, ITEMS - cursor.done, 'rows before the cursor are not read again');
      assert.equal(s.completed, true);
      assert.equal(await countExisting(itemKeys()), 0);
      assert.equal(await r.exists(cursorKey), 0);
    });

    it('refuses a table no rule names, with a clear message', async () => {
      const res = await spawnCli(['backfill', 'postgres', '--table', 'public.nope'], env).done;
      assert.equal(res.code, 2);
      assert.match(res.err, /no rule .* names public\.nope/);
    });
  });

  describe('replay kafka', () => {
    const orderKeys = Array.from({ length: ORDERS }, (_, id) => `order:${id}`);

    async function seedOrders(): Promise<void> {
      const p = r.pipeline();
      for (let id = 0; id < ORDERS; id++) p.set(`order:${id}`, 'cached').set(`order-page:${id}`, 'cached').sadd(`cdc:tag:order-${id}`, `order-page:${id}`);
      await p.exec();
    }

    it('--dry-run prints counts, shows progress and touches no key', async () => {
      await seedOrders();
      const res = await spawnCli(['replay', 'kafka', '--from', 'earliest', '--dry-run', '--progress-interval', '1'], env).done;
      assert.equal(res.code, 0, res.err + res.out);
      assert.match(res.out, new RegExp(`replay kafka \\(dry run\\): ${ORDER_UPDATES} records, ${ORDER_UPDATES} events, 0 skipped, 0 poison`));
      assert.match(res.out, new RegExp(`events by table: public\\.orders=${ORDER_UPDATES}`));
      assert.match(res.out, /would invalidate \(counts include repeats/);
      assert.match(res.out, new RegExp(`keys +${ORDER_UPDATES}  e\\.g\\. order:`));
      assert.match(res.out, new RegExp(`tags +${ORDER_UPDATES}  e\\.g\\. order-`));
      assert.match(res.out, /dry run: nothing was invalidated/);
      assert.match(res.err, new RegExp(`replay: ${ORDER_UPDATES}/${ORDER_UPDATES} records \\(100%\\), 4/4 partitions done, \\d+ records/s`));
      assert.equal(await countExisting(orderKeys), ORDERS);
      assert.equal(await countExisting(orderKeys.map((k) => k.replace('order:', 'order-page:'))), ORDERS);
    });

    it('for real deletes the keys and tagged keys of every replayed event', async () => {
      const res = await spawnCli(['replay', 'kafka', '--from', 'earliest', '--json'], env).done;
      assert.equal(res.code, 0, res.err + res.out);
      const s = jsonSummary(res.out);
      assert.equal(s.dryRun, false);
      assert.equal(s.events, ORDER_UPDATES);
      assert.equal(s.actions.keys.count, ORDER_UPDATES);
      assert.ok(s.applied.batches > 0);
      assert.deepEqual(s.applied.rejections, []);
      assert.equal(await countExisting(orderKeys), 0);
      assert.equal(await countExisting(orderKeys.map((k) => k.replace('order:', 'order-page:'))), 0);
    });

    it('--from topic:partition:offset replays only the named partition from that offset', async () => {
      await seedOrders();
      const end = Number((await endOffsets(kafka.client(), TOPIC))[`${TOPIC}/2`]);
      const from = Math.floor(end / 2);
      const res = await spawnCli(['replay', 'kafka', '--from', `${TOPIC}:2:${from}`, '--json'], env).done;
      assert.equal(res.code, 0, res.err + res.out);
      const s = jsonSummary(res.out);
      assert.deepEqual(Object.keys(s.ranges), [`${TOPIC}/2`]);
      assert.deepEqual(s.ranges[`${TOPIC}/2`], { start: String(from), end: String(end) });
      assert.equal(s.records, end - from);
      const left = await countExisting(orderKeys);
      assert.ok(left > 0 && left < ORDERS, `only some rows replayed (${left} keys left)`);
    });

    it('never moves the live consumer group', async () => {
      assert.deepEqual(await committedOffsets(kafka.client(), 'live', TOPIC), live);
      assert.ok(Object.values(live).every((o) => o === '5'));
    });
  });
});
