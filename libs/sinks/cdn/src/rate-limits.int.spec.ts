import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { FakeCloudflare, FakeCloudFront, RedisServer, captureLogger } from '@cdc/testing';
import { createCdnComponents } from './create-cdn-components';
import { listCdnDeadLetters } from './dead-letters';
import { OutboxStore } from './outbox-store';
import { batchOf, cfFile, cfPath, testConfig, until } from './cdn-fixtures.test-helper';

const TOKEN = 'cf-burst-token-77aa';
const ZONE = '99998888777766665555444433332222';

describe('CDN purge rate limits and provider capacity (real Redis, fake CDNs)', () => {
  let redisServer: RedisServer;
  let redis: Redis;

  before(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'AKIARATELIMITS';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'rate-limits-secret';
    redisServer = await RedisServer.start();
    redis = redisServer.client();
  });

  after(async () => {
    redis.disconnect();
    await redisServer.destroy();
  });

  it('a burst of 10,000 changes to 100 rows purges every URL with ≤ 1/10 of the naive requests, retrying every 429', async (t) => {
    // The fake enforces 5 req/s (bucket 5); the worker is configured for more, so it meets real 429s.
    const cf = await FakeCloudflare.start({ token: TOKEN, zones: [ZONE], ratePerSec: 5, burst: 5 });
    cf.faults.setLatency(20, 60);
    const config = testConfig({
      CLOUDFLARE_ZONES: `shop=${ZONE}`,
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_API_URL: cf.url,
      CLOUDFLARE_RATE_PER_SEC: '20',
      CLOUDFLARE_BURST: '20',
      CDN_MAX_ATTEMPTS: '5',
    });
    const { outboxSink, purgeWorker } = createCdnComponents({ config, redis, logger: captureLogger('warn').logger });
    const store = new OutboxStore(redis, config.outbox);
    await outboxSink.start();
    await purgeWorker.start();
    const urls = Array.from({ length: 100 }, (_, i) => `https://shop.example.com/c${i % 10}/product-${i}`);
    const changes = 10_000;
    try {
      // 10,000 changes, each to one of 100 rows, in 500 pipeline batches of 20 changes.
      for (let b = 0; b < changes / 20; b++) {
        const purges = Array.from({ length: 20 }, (_, i) => cfFile(urls[(b * 20 + i * 7) % urls.length]));
        await outboxSink.apply(batchOf(purges, { position: `0/${b}` }));
        if (b % 50 === 49) await new Promise((r) => setTimeout(r, 20)); // a stream, not one write
      }
      await until('outbox drained', async () => (await store.backlog()).depth === 0 && (await store.pendingCount()) === 0, 60_000);
    } finally {
      await purgeWorker.stop();
      await cf.stop();
    }
    const purged = cf.purgedValues(ZONE, 'files');
    for (const u of urls) assert.ok(purged.has(u), `purged ${u}`);
    assert.equal((await listCdnDeadLetters(redis, config)).length, 0, 'no purge given up');
    const total = cf.requests.length;
    const throttled = cf.requests.filter((r) => r.status === 429).length;
    const ok = cf.successfulRequests.length;
    assert.equal(total, ok + throttled, 'every request either succeeded or was a 429 that got retried');
    assert.ok(ok * 10 <= changes, `successful requests ${ok} ≤ 1/10 of ${changes}`);
    assert.ok(total * 10 <= changes, `all requests incl. 429s ${total} ≤ 1/10 of ${changes}`);
    t.diagnostic(`burst: ${changes} changes → ${ok} purge requests (+${throttled} answered 429 and retried) = ${(total / changes).toFixed(4)} requests/change (naive 1.0)`);
  });

  it('CloudFront: waits for in-progress capacity instead of failing, and splits wildcards to the limit', async () => {
    const cfr = await FakeCloudFront.start({ distributions: ['E3WEB'], completeAfterMs: 400, maxWildcardPathsInProgress: 15 });
    const config = testConfig({
      CLOUDFRONT_DISTRIBUTIONS: 'web=E3WEB',
      CLOUDFRONT_ENDPOINT: cfr.url,
      CLOUDFRONT_RATE_PER_SEC: '50',
      CDN_MAX_ATTEMPTS: '2',
    });
    const { outboxSink, purgeWorker } = createCdnComponents({ config, redis, logger: captureLogger('warn').logger });
    const store = new OutboxStore(redis, config.outbox);
    await outboxSink.start();
    await purgeWorker.start();
    const wildcards = Array.from({ length: 40 }, (_, i) => `/section-${i}/*`);
    try {
      for (let i = 0; i < wildcards.length; i += 10) await outboxSink.apply(batchOf(wildcards.slice(i, i + 10).map((w) => cfPath(w))));
      await until('outbox drained', async () => (await store.backlog()).depth === 0 && (await store.pendingCount()) === 0, 60_000);
    } finally {
      await purgeWorker.stop();
      await cfr.stop();
    }
    assert.deepEqual([...cfr.invalidatedPaths('E3WEB')].sort(), [...wildcards].sort());
    assert.ok(cfr.requests.some((r) => r.errorCode === 'TooManyInvalidationsInProgress'), 'the in-progress limit was hit');
    assert.ok(cfr.requests.some((r) => r.operation === 'ListInvalidations'), 'and the worker polled for capacity');
    assert.ok(cfr.invalidations('E3WEB').every((i) => i.paths.length <= 15), '≤ 15 wildcard paths per invalidation');
    assert.equal((await listCdnDeadLetters(redis, config)).length, 0, 'capacity waits never dead-letter');
  });
});
