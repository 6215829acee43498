import { strict as assert } from 'node:assert';
import { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { FakeCloudflare, FakeCloudFront, RedisServer, captureLogger } from '@cdc/testing';
import { CdnOutboxSink } from './outbox-sink';
import { OutboxStore } from './outbox-store';
import { batchOf, cfFile, cfPath, testConfig, until } from './cdn-fixtures.test-helper';
import { killHard, spawnPurgeWorker } from './spawn-worker.test-helper';

const TOKEN = 'cf-durability-token-9f2a';
const ZONE = 'aaaabbbbccccddddeeeeffff00001111';

/**
 * kill -9 of the purge worker process (a) after the outbox write and before any provider
 * call, and (b) while CloudFront has applied the invalidation but not yet answered. After
 * restarts every purge happens, and CloudFront holds exactly one invalidation.
 */
describe('CDN outbox durability across kill -9 of the purge worker', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let cf: FakeCloudflare;
  let cfr: FakeCloudFront;
  const children: ChildProcess[] = [];

  before(async () => {
    redisServer = await RedisServer.start();
    redis = redisServer.client();
    cf = await FakeCloudflare.start({ token: TOKEN, zones: [ZONE] });
    cfr = await FakeCloudFront.start({ distributions: ['E2WEB'], completeAfterMs: 60_000 });
  });

  after(async () => {
    for (const c of children) await killHard(c);
    redis.disconnect();
    await cf.stop();
    await cfr.stop();
    await redisServer.destroy();
  });

  it('purges everything after restarts and never duplicates a CloudFront invalidation', async () => {
    const stream = `durability:${Date.now()}`;
    const env = {
      REDIS_URL: redisServer.url,
      CDN_OUTBOX_STREAM: stream,
      CLOUDFLARE_ZONES: `shop=${ZONE}`,
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_API_URL: cf.url,
      CLOUDFRONT_DISTRIBUTIONS: 'web=E2WEB',
      CLOUDFRONT_ENDPOINT: cfr.url,
      AWS_ACCESS_KEY_ID: 'AKIADURABILITY',
      AWS_SECRET_ACCESS_KEY: 'durability-secret',
      AWS_REGION: 'us-east-1',
      CDN_CLAIM_MIN_IDLE_MS: '1000',
      CDN_RETRY_INITIAL_MS: '50',
      CDN_RETRY_MAX_MS: '500',
    };
    const config = testConfig({ ...env });
    const store = new OutboxStore(redis, config.outbox);
    const sink = new CdnOutboxSink(store, config.outbox, captureLogger().logger);
    await sink.start();
    const files = Array.from({ length: 45 }, (_, i) => `https://shop.example.com/item/${i}`);
    const paths = Array.from({ length: 20 }, (_, i) => `/item/${i}`);
    await sink.apply(batchOf([...files.map((f) => cfFile(f)), ...paths.map((p) => cfPath(p))], { position: '0/A' }));
    assert.equal((await store.backlog()).depth, 2, 'durably queued before any worker runs');

    // (a) The worker takes the entries but its coalescing window is still open: kill -9.
    const w1 = await spawnPurgeWorker({ ...env, CDN_CONSUMER_NAME: 'w1', CDN_COALESCE_MS: '60000' });
    children.push(w1);
    await until('entries delivered to w1', async () => (await store.pendingCount()) === 2);
    await killHard(w1);
    assert.equal(cf.requests.length + cfr.requests.length, 0, 'killed before any provider call');

    // (b) CloudFront applies the invalidation but holds the answer; kill -9 while waiting.
    cfr.faults.hold();
    const w2 = await spawnPurgeWorker({ ...env, CDN_CONSUMER_NAME: 'w2', CDN_COALESCE_MS: '50' });
    children.push(w2);
    await until('CloudFront received the invalidation', () => cfr.invalidations('E2WEB').length === 1 && cfr.faults.heldCount === 1);
    await until('Cloudflare entry purged and acked', async () => (await store.backlog()).depth === 1);
    await killHard(w2);
    cfr.faults.release();
    assert.equal(await store.pendingCount(), 1, 'the CloudFront entry is still pending: never confirmed');

    // (c) A fresh worker claims the CloudFront entry and retries with the same CallerReference.
    const w3 = await spawnPurgeWorker({ ...env, CDN_CONSUMER_NAME: 'w3', CDN_COALESCE_MS: '50' });
    children.push(w3);
    await until('outbox drained', async () => (await store.backlog()).depth === 0 && (await store.pendingCount()) === 0);
    await killHard(w3);

    const creates = cfr.requests.filter((r) => r.operation === 'CreateInvalidation');
    assert.ok(creates.length >= 2, 'CreateInvalidation was sent again after the kill');
    assert.equal(new Set(creates.map((r) => r.callerReference)).size, 1, 'with the same CallerReference');
    assert.equal(cfr.invalidations('E2WEB').length, 1, 'and CloudFront holds exactly one invalidation');
    assert.deepEqual([...cfr.invalidatedPaths('E2WEB')].sort(), [...paths].sort());
    const purged = cf.purgedValues(ZONE, 'files');
    for (const f of files) assert.ok(purged.has(f), `purged ${f}`);
    assert.ok(cf.requests.every((r) => r.status === 200));
    assert.ok(cf.requests.every((r) => Array.isArray((r.body as { files: unknown[] }).files) && (r.body as { files: unknown[] }).files.length <= 30), 'at most 30 URLs per request');
  });
});
