/**
 * `npm run demo`: the whole job end to end on local defaults.
 *
 * Starts a throwaway Postgres with logical WAL and a throwaway Redis (or uses $REDIS_URL),
 * creates the example shop schema, starts the real worker (`cdc-invalidator run`) with
 * examples/rules.yaml, fills the caches, drives a few realistic writes and prints, for each,
 * what was invalidated and the measured commit → invalidated lag; then reads through the
 * client library (@cdc/cache-client) as an application would: a miss loaded from the
 * database, an L1 hit, an L2 hit in a second process-like client, the invalidation of a
 * write, and the next read's fresh value. Cleans up after itself.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { CacheClient } from '@cdc/cache-client';
import { FakeCloudFront, FakeCloudflare, PostgresServer, RedisServer, waitFor } from '@cdc/testing';
import { WorkerProcess } from '../test/support/worker-process';

const repo = join(__dirname, '..', '..');
const say = (s: string) => process.stdout.write(s + '\n');

interface L1Message {
  type?: 'invalidate' | 'heartbeat';
  keys: string[];
  tags: string[];
  patterns: string[];
  commitTime: string;
  position: string;
}

async function main(): Promise<void> {
  say('== cdc-invalidator demo ==');
  const pg = await PostgresServer.start();
  say(`postgres (wal_level=logical) on 127.0.0.1:${pg.port}`);
  const ownRedis = process.env.REDIS_URL ? undefined : await RedisServer.start();
  const redisUrl = process.env.REDIS_URL ?? ownRedis!.url;
  say(`redis on ${redisUrl.replace(/\/\/[^@]*@/, '//')}`);
  const redis = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  const dir = mkdtempSync(join(tmpdir(), 'cdc-demo-'));
  // The CDN APIs cannot be reached from here: local fakes that behave like them receive the purges.
  const cdnToken = 'demo-cloudflare-token-0123456789';
  const cloudflare = await FakeCloudflare.start({ token: cdnToken });
  const cloudfront = await FakeCloudFront.start({});
  const worker = new WorkerProcess(
    {
      DATABASE_URL: pg.url,
      REDIS_URL: redisUrl,
      RULES_FILE: join(repo, 'examples', 'rules.yaml'),
      PG_SLOT: 'demo',
      PG_PUBLICATION: 'demo',
      LOG_LEVEL: 'warn',
      CLOUDFLARE_ZONES: 'shop=0123456789abcdef0123456789abcdef',
      CLOUDFLARE_API_TOKEN: cdnToken,
      CLOUDFLARE_API_URL: cloudflare.url,
      CLOUDFRONT_DISTRIBUTIONS: 'web=EDEMODIST0001',
      CLOUDFRONT_ENDPOINT: cloudfront.url,
      AWS_ACCESS_KEY_ID: 'AKIADEMODEMODEMO',
      AWS_SECRET_ACCESS_KEY: 'demo-secret-key',
      AWS_REGION: 'us-east-1',
      CDN_COALESCE_MS: '50',
    },
    join(dir, 'worker.log'),
  );
  try {
    await pg.query(readFileSync(join(repo, 'examples', 'schema.sql'), 'utf8'));
    await pg.query(`
      INSERT INTO categories VALUES (1, 'shoes', 'Shoes'), (2, 'hats', 'Hats');
      INSERT INTO products (id, slug, title, price, category_id) VALUES
        (1, 'red-sneaker', 'Red sneaker', 59.90, 1), (2, 'blue-cap', 'Blue cap', 19.00, 2), (3, 'green-boot', 'Green boot', 89.00, 1);
      INSERT INTO articles (id, slug, title, author_id, published_at) VALUES (10, 'spring-sale', 'Spring sale', 7, now());
    `);
    await worker.start();
    say(`worker running (metrics on http://127.0.0.1:${worker.port}/metrics), rules: examples/rules.yaml\n`);

    const received: Array<{ at: number; channel: string; msg: L1Message }> = [];
    await sub.psubscribe('*');
    sub.on('pmessage', (_p, channel, text) => {
      const msg = JSON.parse(text) as L1Message;
      // Idle channels also carry heartbeats (version 2), which invalidate nothing.
      if (msg.type !== 'heartbeat') received.push({ at: Date.now(), channel, msg });
    });

    const fillCache = async () => {
      await redis
        .multi()
        .set('product:1', '{"title":"Red sneaker"}')
        .set('product:slug:red-sneaker', '1')
        .set('product:2', '{"title":"Blue cap"}')
        .set('product:slug:blue-cap', '2')
        .set('product:3', '{}')
        .set('search:products:q=sneaker', '[1]')
        .set('search:products:q=boot', '[3]')
        .set('category:1', '{}')
        .set('article:10', '{}')
        .set('blog:index:page=1', '[10]')
        .set('home:featured', '[1,3]')
        .set('listing:category:1:page=1', '[1,3]')
        .set('article:slug:spring-sale', '10')
        .sadd('cdc:tag:category-1', 'page:/c/shoes', 'page:/home')
        .set('page:/c/shoes', '<html>')
        .set('page:/home', '<html>')
        .exec();
    };

    const steps: Array<[string, string]> = [
      ['change a price', `UPDATE products SET price = 54.90 WHERE id = 1`],
      ['rename a slug (old and new slug keys both go)', `UPDATE products SET slug = 'red-runner', title = 'Red runner' WHERE id = 1`],
      ['delete a product', `DELETE FROM products WHERE id = 2`],
      ['publish an article', `INSERT INTO articles (id, slug, title, author_id, published_at) VALUES (11, 'summer-sale', 'Summer sale', 7, now())`],
      [
        'explicit invalidation inside a transaction (pg_logical_emit_message)',
        `SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"keys":["homepage"],"tags":["category-1"]}')`,
      ],
    ];
    const lags: number[] = [];
    for (const [title, sql] of steps) {
      await fillCache();
      const before = received.length;
      const keysBefore = new Set(await redis.keys('*'));
      const cfBefore = cloudflare.requests.length;
      const cfrontBefore = cloudfront.requests.filter((r) => r.operation === 'CreateInvalidation').length;
      await pg.query(sql);
      await waitFor(`invalidation for "${title}"`, async () => received.length > before, 10_000, 5);
      await new Promise((r) => setTimeout(r, 50));
      const keysAfter = new Set(await redis.keys('*'));
      const gone = [...keysBefore].filter((k) => !keysAfter.has(k) && !k.startsWith('cdc:'));
      say(`▶ ${title}\n  SQL: ${sql}`);
      for (const { at, channel, msg } of received.slice(before)) {
        const lag = at - Date.parse(msg.commitTime);
        lags.push(lag);
        say(`  L1 message on ${channel}: keys=${JSON.stringify(msg.keys)} tags=${JSON.stringify(msg.tags)} patterns=${JSON.stringify(msg.patterns)}`);
        say(`  commit → L1 message received: ${lag} ms (position ${msg.position})`);
      }
      say(`  deleted from Redis: ${gone.sort().join(', ') || '(none)'}`);
      await new Promise((r) => setTimeout(r, 400)); // the purge worker coalesces for a moment
      for (const req of cloudflare.requests.slice(cfBefore)) say(`  Cloudflare purge_cache (${req.status}): ${JSON.stringify(req.body)}`);
      for (const req of cloudfront.requests.filter((r) => r.operation === 'CreateInvalidation').slice(cfrontBefore)) {
        say(`  CloudFront CreateInvalidation (${req.status}): ${JSON.stringify(req.paths)}`);
      }
      say('');
    }

    await readThroughTheLibrary(pg, redis);

    const metrics = await worker.metrics();
    const sum = Number(/^cdc_commit_to_applied_seconds_sum (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const count = Number(/^cdc_commit_to_applied_seconds_count (\S+)/m.exec(metrics)?.[1] ?? NaN);
    say('== summary ==');
    say(`transactions applied: ${count}; mean commit → Redis acknowledged: ${((sum / count) * 1000).toFixed(2)} ms (from /metrics)`);
    say(`L1 messages: ${received.length}; max commit → L1 received: ${Math.max(...lags)} ms (ms clock resolution)`);
    const code = await worker.terminate();
    say(`worker stopped gracefully (exit ${code})`);
  } finally {
    await worker.kill9().catch(() => undefined);
    sub.disconnect();
    redis.disconnect();
    await ownRedis?.destroy();
    await cloudflare.stop();
    await cloudfront.stop();
    await pg.destroy();
  }
}

/**
 * What an application does: read through @cdc/cache-client. Two clients stand for two pods,
 * each with its own L1 over the shared Redis; both hear the worker on `l1:products`.
 */
async function readThroughTheLibrary(pg: PostgresServer, redis: Redis): Promise<void> {
  say('▶ reading through the client library (@cdc/cache-client), two app instances "pod A" and "pod B"');
  const podA = new CacheClient({ redis, subscriber: { channels: ['l1:products'] } });
  const podB = new CacheClient({ redis, subscriber: { channels: ['l1:products'] } });
  let loads = 0;
  const loader = async () => {
    loads++;
    const [row] = await pg.query<{ title: string; price: string }>('SELECT title, price FROM products WHERE id = 3');
    return row;
  };
  const read = async (pod: CacheClient, name: string) => {
    let layer = 'database (loader)';
    const onHit = (e: { layer: string }) => (layer = e.layer === 'l1' ? 'L1 (in-process)' : 'L2 (Redis)');
    pod.on('hit', onHit);
    const before = loads;
    const value = await pod.getOrSet('product:3', loader, { ttlMs: 60_000, tags: ['product-3'] });
    pod.off('hit', onHit);
    say(`  ${name} getOrSet('product:3') → ${JSON.stringify(value)} from ${loads > before ? 'the database (loader; filled L2 under a lease, and L1)' : layer}`);
  };
  try {
    await redis.del('product:3');
    await podA.connect();
    await podB.connect();
    // L1 is used only while the subscriber hears the worker (a heartbeat comes within a second).
    await waitFor('the pods to hear the worker', async () => !podA.l1Bypassed && !podB.l1Bypassed, 10_000, 20);
    await read(podA, 'pod A');
    await read(podA, 'pod A');
    await read(podB, 'pod B');
    await read(podB, 'pod B');
    const invalidated = (pod: CacheClient) =>
      new Promise<void>((resolve) => {
        const on = (e: { outcome: string }) => {
          if (e.outcome !== 'applied') return; // heartbeats also count as messages
          pod.off('message', on);
          resolve();
        };
        pod.on('message', on);
      });
    const heard = Promise.all([invalidated(podA), invalidated(podB)]);
    const sql = `UPDATE products SET price = 79.00 WHERE id = 3`;
    await pg.query(sql);
    say(`  SQL: ${sql}`);
    await heard;
    say(`  the worker deleted product:3 from Redis (exists: ${await redis.exists('product:3')}) and both L1s evicted it (L1 message on l1:products)`);
    await read(podA, 'pod A');
    await read(podB, 'pod B');
    const a = podA.stats();
    say(`  pod A counters: L1 hits ${a.hits.l1}, L2 hits ${a.hits.l2}, fills ${a.fills}; pod B: L1 hits ${podB.stats().hits.l1}, L2 hits ${podB.stats().hits.l2}`);
    say('');
  } finally {
    await podA.close();
    await podB.close();
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
