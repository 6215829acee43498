import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { FakeCloudflare, FakeCloudFront, RedisServer, captureLogger } from '@cdc/testing';
import { createCdnComponents } from './create-cdn-components';
import { listCdnDeadLetters, redriveCdnDeadLetters } from './dead-letters';
import { cdnMetrics } from './cdn-metrics';
import { OutboxStore } from './outbox-store';
import { batchOf, cfFile, cfPath, testConfig, until } from './cdn-fixtures.test-helper';

const TOKEN = 'cf-test-token-Zx81LqPw';
const ZONE = '0123456789abcdef0123456789abcdef';
const AWS_KEY = 'AKIATESTKEY0001';
const AWS_SECRET = 'aws/secret+Value/NeverLogged0001';

describe('CDN outbox and purge worker (real Redis, fake CDNs)', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let cf: FakeCloudflare;
  let cfr: FakeCloudFront;

  before(async () => {
    process.env.AWS_ACCESS_KEY_ID = AWS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = AWS_SECRET;
    redisServer = await RedisServer.start();
    redis = redisServer.client();
    cf = await FakeCloudflare.start({ token: TOKEN, zones: [ZONE] });
    cfr = await FakeCloudFront.start({ distributions: ['E1WEB'], accessKeyId: AWS_KEY, completeAfterMs: 300 });
  });

  after(async () => {
    redis.disconnect();
    await cf.stop();
    await cfr.stop();
    await redisServer.destroy();
  });

  function components(env: Record<string, string> = {}, logger = captureLogger().logger) {
    const config = testConfig({
      CLOUDFLARE_ZONES: `shop=${ZONE}`,
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_API_URL: cf.url,
      CLOUDFLARE_RATE_PER_SEC: '100',
      CLOUDFRONT_DISTRIBUTIONS: 'web=E1WEB',
      CLOUDFRONT_ENDPOINT: cfr.url,
      ...env,
    });
    return { config, ...createCdnComponents({ config, redis, logger }) };
  }

  it('queues purges durably, then purges both providers and empties the outbox', async () => {
    const { config, outboxSink, purgeWorker } = components();
    await outboxSink.start();
    await outboxSink.apply(batchOf([cfFile('https://shop.example.com/p/1'), cfFile('https://shop.example.com/p/2'), cfPath('/p/1')]));
    const store = new OutboxStore(redis, config.outbox);
    assert.equal((await store.backlog()).depth, 2, 'one entry per provider/target');
    await purgeWorker.start();
    try {
      await until('outbox drained', async () => (await store.backlog()).depth === 0);
      assert.deepEqual([...cf.purgedValues(ZONE, 'files')].sort(), ['https://shop.example.com/p/1', 'https://shop.example.com/p/2']);
      assert.deepEqual([...cfr.invalidatedPaths('E1WEB')], ['/p/1']);
      assert.equal(await store.pendingCount(), 0);
    } finally {
      await purgeWorker.stop();
    }
  });

  it('outage: apply() still succeeds while the CDN is down; the backlog drains when it returns, nothing lost', async () => {
    const { config, outboxSink, purgeWorker } = components({ CDN_MAX_ATTEMPTS: '1000' });
    const store = new OutboxStore(redis, config.outbox);
    await outboxSink.start();
    await purgeWorker.start();
    await cf.pause();
    const before = cf.requests.length;
    const urls: string[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const url = `https://shop.example.com/outage/${i}`;
        urls.push(url);
        await outboxSink.apply(batchOf([cfFile(url)], { position: `0/${i}` }));
      }
      assert.equal((await store.backlog()).depth, 40, 'all batches durably queued while the CDN is down');
      await new Promise((r) => setTimeout(r, 500)); // the worker retries against a closed port
      assert.equal(cf.requests.length, before, 'nothing reached the CDN');
      assert.ok((await store.backlog()).depth > 0);
      await cf.resume();
      await until('backlog drained', async () => (await store.backlog()).depth === 0);
      const purged = cf.purgedValues(ZONE, 'files');
      for (const u of urls) assert.ok(purged.has(u), `purged ${u}`);
      assert.equal((await listCdnDeadLetters(redis, config)).length, 0);
    } finally {
      await cf.resume().catch(() => undefined);
      await purgeWorker.stop();
    }
  });

  it('dead-letters after max attempts, lists them with the error, and re-drives them', async () => {
    const { config, outboxSink, purgeWorker } = components({ CDN_MAX_ATTEMPTS: '3' });
    const store = new OutboxStore(redis, config.outbox);
    const deadBefore = (await cdnMetrics.deadLetters.get()).values.find((v) => v.labels.provider === 'cloudflare')?.value ?? 0;
    await outboxSink.start();
    await purgeWorker.start();
    try {
      cf.faults.fail({ kind: 'status', status: 502 });
      await outboxSink.apply(batchOf([cfFile('https://shop.example.com/dead/1'), cfFile('https://shop.example.com/dead/2')]));
      await until('dead-lettered', async () => (await listCdnDeadLetters(redis, config)).length === 1);
      const [letter] = await listCdnDeadLetters(redis, config);
      assert.equal(letter.provider, 'cloudflare');
      assert.equal(letter.target, 'shop');
      assert.equal(letter.attempts, 3);
      assert.match(letter.error, /HTTP 502/);
      assert.deepEqual(letter.purges.map((p) => p.value).sort(), ['https://shop.example.com/dead/1', 'https://shop.example.com/dead/2']);
      assert.equal((await store.backlog()).depth, 0, 'acked and removed from the outbox');
      assert.equal(await store.pendingCount(), 0);
      const deadAfter = (await cdnMetrics.deadLetters.get()).values.find((v) => v.labels.provider === 'cloudflare')?.value ?? 0;
      assert.equal(deadAfter - deadBefore, 1, 'cdc_cdn_dead_letters_total counts it');

      cf.faults.clearFailures();
      const res = await redriveCdnDeadLetters(redis, config, [letter.id, '1-1']);
      assert.deepEqual(res, { redriven: 1, missing: ['1-1'] });
      assert.equal((await listCdnDeadLetters(redis, config)).length, 0);
      await until('re-driven purge done', () => cf.purgedValues(ZONE, 'files').has('https://shop.example.com/dead/2'));
      await until('outbox drained', async () => (await store.backlog()).depth === 0);
    } finally {
      cf.faults.clearFailures();
      await purgeWorker.stop();
    }
  });

  it('re-drives all dead letters, including entries for targets the worker could not resolve', async () => {
    const { config, outboxSink, purgeWorker } = components();
    await outboxSink.start();
    await purgeWorker.start();
    try {
      await outboxSink.apply(batchOf([cfFile('https://blog.example.com/x', 'blog')]));
      await until('unknown target dead-lettered', async () => (await listCdnDeadLetters(redis, config)).length === 1);
      const [letter] = await listCdnDeadLetters(redis, config);
      assert.match(letter.error, /target "blog" is not configured/);
      assert.equal(letter.attempts, 0);
      const res = await redriveCdnDeadLetters(redis, config, 'all');
      assert.equal(res.redriven, 1);
      // Still unknown: it comes back to the dead-letter stream instead of being lost.
      await until('dead-lettered again', async () => (await listCdnDeadLetters(redis, config)).length === 1);
    } finally {
      await purgeWorker.stop();
    }
  });

  it('logs with one `component` key, the caller’s, and names the outbox or purge worker as its `role`', async () => {
    const capture = captureLogger('debug');
    const { config, outboxSink, purgeWorker } = components({}, capture.logger.child({ component: 'cdn' }));
    await outboxSink.start();
    await outboxSink.apply(batchOf([cfFile('https://shop.example.com/p/one-component')]));
    await purgeWorker.start();
    try {
      await until('outbox drained', async () => (await new OutboxStore(redis, config.outbox).backlog()).depth === 0);
    } finally {
      await purgeWorker.stop();
    }
    // JSON.parse keeps the last of two equal keys: count them in the raw line.
    for (const line of capture.lines) assert.equal(line.match(/"component":/g)?.length, 1, line);
    const roles = new Set(capture.lines.map((l) => JSON.parse(l) as { component: string; role?: string }).map((l) => `${l.component}/${l.role}`));
    assert.ok(roles.has('cdn/outbox') && roles.has('cdn/purge-worker'), [...roles].join(', '));
  });

  it('never writes the Cloudflare token or AWS keys to logs or dead letters, even on 401/403/500', async () => {
    const capture = captureLogger('debug');
    const { config, outboxSink, purgeWorker } = components({ CDN_MAX_ATTEMPTS: '2', CLOUDFLARE_API_TOKEN: `${TOKEN}-wrong` }, capture.logger);
    await outboxSink.start();
    await purgeWorker.start();
    try {
      await outboxSink.apply(batchOf([cfFile('https://shop.example.com/secret/1')])); // 403: wrong token
      await until('auth failure dead-lettered', async () => (await listCdnDeadLetters(redis, config)).length === 1);
      cf.faults.fail({ kind: 'status', status: 401 }, 1);
      await outboxSink.apply(batchOf([cfFile('https://shop.example.com/secret/401')]));
      await until('401 dead-lettered', async () => (await listCdnDeadLetters(redis, config)).length === 2);
      cf.faults.fail({ kind: 'status', status: 500 });
      await outboxSink.apply(batchOf([cfFile('https://shop.example.com/secret/2')]));
      cfr.faults.fail({ kind: 'status', status: 500 });
      await outboxSink.apply(batchOf([cfPath('/secret/3')]));
      await until('all dead-lettered', async () => (await listCdnDeadLetters(redis, config)).length === 4);
    } finally {
      cf.faults.clearFailures();
      cfr.faults.clearFailures();
      await purgeWorker.stop();
    }
    const log = capture.lines.join('\n');
    assert.ok(capture.lines.some((l) => /HTTP 403: not authorized/.test(l)), 'the 403 was logged');
    assert.ok(capture.lines.some((l) => /HTTP 401: not authorized/.test(l)), 'the 401 was logged');
    assert.ok(capture.lines.some((l) => /HTTP 500/.test(l)), 'the 500s were logged');
    for (const secret of [TOKEN, AWS_SECRET, AWS_KEY]) {
      assert.ok(!log.includes(secret), `log must not contain ${secret.slice(0, 6)}…`);
    }
    const letters = JSON.stringify(await listCdnDeadLetters(redis, config));
    for (const secret of [TOKEN, AWS_SECRET, AWS_KEY]) assert.ok(!letters.includes(secret));
    assert.ok(cf.requests.some((r) => r.authorization === `Bearer ${TOKEN}-wrong`), 'the token was really sent to the server');
  });
});
