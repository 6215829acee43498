import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { FakeCloudflare, PostgresServer, RedisServer, waitFor } from '@cdc/testing';
import { WorkerProcess } from '../support/worker-process';

/**
 * The admin API through the real worker: bearer-token auth (401 / 403 / 404 when disabled),
 * rules, status, explain, and manual invalidations that go through the pipeline's own sinks:
 * Redis keys and tag members deleted, the L1 message published, the CDN purge sent.
 */
const TOKEN = 'admin-token-for-the-e2e-test-0123456789';
const CF_TOKEN = 'cloudflare-token-for-the-e2e-test';
const ZONE_ID = '0123456789abcdef0123456789abcdef';

const RULES = `version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}"]
      tags: ["product-{id}"]
      cdn:
        cloudflare: { zone: shop, files: ["https://shop.example.com/p/{id}"] }
`;

describe('admin API', { timeout: 150_000 }, () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let cf: FakeCloudflare;
  let r: Redis;
  let dir: string;
  let worker: WorkerProcess;
  const logs: string[] = [];

  const env = (extra: Record<string, string>) => ({
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    RULES_FILE: join(dir, 'rules.yaml'),
    SOURCE: 'postgres',
    PG_SLOT: 'admin_test',
    PG_PUBLICATION: 'admin_test',
    SHUTDOWN_TIMEOUT_MS: '5000',
    CLOUDFLARE_ZONES: `shop=${ZONE_ID}`,
    CLOUDFLARE_API_TOKEN: CF_TOKEN,
    CLOUDFLARE_API_URL: cf.url,
    CLOUDFLARE_RATE_PER_SEC: '100',
    CDN_COALESCE_MS: '0',
    ...extra,
  });

  async function call(method: 'GET' | 'POST', path: string, opts: { token?: string; body?: unknown; raw?: string } = {}) {
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${worker.port}${path}`, {
      method,
      headers,
      body: opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json, headers: res.headers };
  }

  before(async () => {
    [pg, redis, cf] = await Promise.all([PostgresServer.start(), RedisServer.start(), FakeCloudflare.start({ token: CF_TOKEN, zones: [ZONE_ID] })]);
    r = redis.client();
    dir = mkdtempSync(join(tmpdir(), 'cdc-admin-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    await pg.query(`CREATE TABLE products (id int PRIMARY KEY, title text NOT NULL); INSERT INTO products VALUES (1, 'a');`);
    logs.push(join(dir, 'worker.log'));
    worker = new WorkerProcess(env({ ADMIN_TOKEN: TOKEN, ADMIN_MAX_PATTERN_KEYS: '5' }), logs[0]);
    await worker.start();
  });

  after(async () => {
    await worker?.terminate();
    r?.disconnect();
    await cf?.stop();
    await redis?.destroy();
    await pg?.destroy();
  });

  const routes: Array<['GET' | 'POST', string, unknown?]> = [
    ['GET', '/admin/rules'],
    ['GET', '/admin/status'],
    ['POST', '/admin/explain', { op: 'insert', table: 'public.products', after: { id: 1 } }],
    ['POST', '/admin/invalidate', { keys: ['x'] }],
  ];

  it('answers 401 without a token and 403 with a wrong one, on every route', async () => {
    for (const [method, path, body] of routes) {
      const none = await call(method, path, { body });
      assert.equal(none.status, 401, `${method} ${path} without a token`);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal((await call(method, path, { body, token: `${TOKEN}x` })).status, 403, `${method} ${path} with a wrong token`);
      assert.equal((await call(method, path, { body, token: 'short' })).status, 403);
    }
    const basic = await fetch(`http://127.0.0.1:${worker.port}/admin/rules`, { headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 401, 'only a Bearer token counts');
  });

  it('GET /admin/rules shows the rules in effect', async () => {
    const res = await call('GET', '/admin/rules', { token: TOKEN });
    assert.equal(res.status, 200);
    assert.equal(res.json.hash, createHash('sha256').update(RULES).digest('hex'));
    assert.equal(res.json.file, join(dir, 'rules.yaml'));
    assert.deepEqual(res.json.rules, [{ name: 'product', tables: ['public.products'], ops: ['insert', 'update', 'delete', 'truncate', 'snapshot'], at: `${join(dir, 'rules.yaml')}:3:5` }]);
    assert.deepEqual(res.json.cdnAliases, { cloudflare: ['shop'], cloudfront: [] });
    assert.equal(res.json.reload.enabled, true);
    // The worker's log is written into the rules directory: other files there do not trigger reloads.
    assert.equal(res.json.reload.last, undefined);
  });

  it('GET /admin/status reports role, positions and the CDN outbox', async () => {
    await pg.query(`UPDATE products SET title = 'b' WHERE id = 1`);
    await waitFor('a batch applied', async () => (await call('GET', '/admin/status', { token: TOKEN })).json.lastApplied?.position !== null, 30_000, 50);
    const res = await call('GET', '/admin/status', { token: TOKEN });
    assert.equal(res.status, 200);
    assert.equal(res.json.role, 'active');
    assert.equal(res.json.pipeline, 'running');
    assert.equal(res.json.source.name, 'postgres');
    assert.equal(res.json.source.status, 'streaming');
    assert.match(res.json.source.confirmedPosition, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.match(res.json.lastApplied.position, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.ok(Date.parse(res.json.lastApplied.at) > 0);
    assert.equal(typeof res.json.cdnOutbox.depth, 'number');
  });

  it('POST /admin/explain returns what the rules would do, and 400 for a bad event', async () => {
    const res = await call('POST', '/admin/explain', { token: TOKEN, body: { op: 'update', table: 'public.products', before: { id: 7 }, after: { id: 7 } } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.matches[0].keys, ['product:7']);
    assert.deepEqual(res.json.matches[0].tags, ['product-7']);
    assert.deepEqual(res.json.rules[0], { rule: 'product', matched: true, match: res.json.matches[0] });

    const bad = await call('POST', '/admin/explain', { token: TOKEN, body: { op: 'upsert', table: 'public.products' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /event\.op: unknown op 'upsert'/);
    const malformed = await call('POST', '/admin/explain', { token: TOKEN, raw: '{"op":' });
    assert.equal(malformed.status, 400);
  });

  it('POST /admin/invalidate deletes keys and tag members, publishes to L1 and purges the CDN', async () => {
    await r.set('manual:1', 'v');
    await r.set('manual:2', 'v');
    await r.set('tagged:1', 'v');
    await r.set('tagged:2', 'v');
    await r.set('untouched', 'v');
    await r.sadd('cdc:tag:manual-tag', 'tagged:1', 'tagged:2');
    const sub = redis.client();
    const messages: any[] = [];
    sub.on('message', (_channel: string, text: string) => {
      const m = JSON.parse(text);
      if (m.type !== 'heartbeat') messages.push(m); // the channel also carries heartbeats when idle
    });
    await sub.subscribe('cache-invalidation');
    try {
      const res = await call('POST', '/admin/invalidate', {
        token: TOKEN,
        body: { keys: ['manual:1', 'manual:2'], tags: ['manual-tag'], urls: { cloudflare: { zone: 'shop', files: ['https://shop.example.com/manual'] } } },
      });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.deepEqual(res.json.sinks, ['redis', 'l1-pubsub', 'cdn-outbox']);
      assert.deepEqual(await Promise.all(['manual:1', 'manual:2', 'tagged:1', 'tagged:2', 'untouched'].map((k) => r.exists(k))), [0, 0, 0, 0, 1]);
      assert.equal(await r.scard('cdc:tag:manual-tag'), 0);
      await waitFor('the L1 message', async () => messages.length > 0, 10_000, 20);
      assert.equal(messages[0].v, 2);
      assert.equal(messages[0].type, 'invalidate');
      assert.deepEqual(messages[0].keys, ['manual:1', 'manual:2']);
      assert.deepEqual(messages[0].tags, ['manual-tag']);
      assert.match(messages[0].position, /^admin:/);
      await waitFor('the Cloudflare purge', async () => cf.purgedValues(ZONE_ID, 'files').has('https://shop.example.com/manual'), 20_000, 50);
    } finally {
      sub.disconnect();
    }
    const metrics = await worker.metrics();
    assert.match(metrics, /cdc_admin_invalidations_total\{outcome="applied"\} 1/);
  });

  it('POST /admin/invalidate with dryRun (body or ?dryRun=true) answers what would be deleted, with counts and samples, and touches nothing', async () => {
    const search = Array.from({ length: 12 }, (_, i) => `search:${i}`);
    await r.mset(...search.flatMap((k) => [k, 'v']), 'dry:1', 'v', 'dry-tagged:1', 'v');
    await r.sadd('cdc:tag:dry-tag', 'dry-tagged:1');
    const body = { keys: ['dry:1', 'dry:missing'], tags: ['dry-tag'], patterns: ['search:*'] };
    for (const res of [await call('POST', '/admin/invalidate', { token: TOKEN, body: { ...body, dryRun: true } }), await call('POST', '/admin/invalidate?dryRun=true', { token: TOKEN, body })]) {
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.dryRun, true);
      assert.deepEqual(res.json.keys, { requested: 2, existing: 1, samples: ['dry:1'] });
      assert.deepEqual(res.json.tags, [{ tag: 'dry-tag', members: 1, samples: ['dry-tagged:1'] }]);
      assert.equal(res.json.patterns[0].pattern, 'search:*');
      assert.equal(res.json.patterns[0].matched, 5, 'counted up to the cap');
      assert.equal(res.json.patterns[0].capped, true);
      assert.equal(res.json.patterns[0].samples.length, 5);
      assert.equal(res.json.capped, true);
      assert.equal(res.json.maxPatternKeys, 5);
    }
    assert.equal(await r.exists(...search, 'dry:1', 'dry-tagged:1'), 14, 'nothing was deleted');
    assert.equal(await r.scard('cdc:tag:dry-tag'), 1);
  });

  it('POST /admin/invalidate stops a pattern delete at ADMIN_MAX_PATTERN_KEYS and says so; the worker state is out of its reach', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `capped:${i}`);
    await r.mset(...keys.flatMap((k) => [k, 'v']));
    const res = await call('POST', '/admin/invalidate', { token: TOKEN, body: { patterns: ['capped:*'] } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.capped, true);
    assert.equal(res.json.patternDeletes[0].matched, 5);
    assert.equal(res.json.patternDeletes[0].capped, true);
    assert.equal(res.json.patterns, 1);
    assert.equal(await r.exists(...keys), 7, 'exactly the cap was deleted');

    await r.set('cdc:keep-me', 'worker state');
    const reserved = await call('POST', '/admin/invalidate', { token: TOKEN, body: { patterns: ['cdc:*'] } });
    assert.equal(reserved.status, 200, JSON.stringify(reserved.json));
    assert.equal(reserved.json.capped, false);
    assert.equal(reserved.json.patternDeletes[0].matched, 0);
    assert.ok(reserved.json.patternDeletes[0].reservedSkipped >= 1);
    assert.equal(await r.exists('cdc:keep-me'), 1);
  });

  it('POST /admin/invalidate answers 400 with the bad field, and for a CDN alias not configured', async () => {
    const bad = await call('POST', '/admin/invalidate', { token: TOKEN, body: { keys: 'manual:1' } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.json.message), /body\.keys: Expected array/);
    const alias = await call('POST', '/admin/invalidate', { token: TOKEN, body: { urls: { cloudflare: { zone: 'blog', files: ['https://blog.example.com/'] } } } });
    assert.equal(alias.status, 400);
    assert.match(alias.json.message, /"blog" is not configured in CLOUDFLARE_ZONES \(configured: shop\)/);
  });

  it('is absent (404) when ADMIN_TOKEN is unset, and the token never reaches the log', async () => {
    await worker.terminate();
    logs.push(join(dir, 'worker-no-admin.log'));
    worker = new WorkerProcess(env({}), logs[1]);
    await worker.start();
    for (const [method, path, body] of routes) {
      assert.equal((await call(method, path, { body, token: TOKEN })).status, 404, `${method} ${path}`);
      assert.equal((await call(method, path, { body })).status, 404);
    }
    assert.equal((await call('GET', '/healthz')).status, 200, 'the rest of the HTTP API is still there');
    await worker.terminate();
    for (const file of logs) {
      const text = readFileSync(file, 'utf8');
      assert.ok(text.length > 0, `${file} has log lines`);
      assert.ok(!text.includes(TOKEN), `${file} must not contain the admin token`);
      assert.ok(!text.includes(CF_TOKEN), `${file} must not contain the Cloudflare token`);
    }
  });
});
