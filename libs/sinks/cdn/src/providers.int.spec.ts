import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { CF_ERROR, FakeCloudflare, FakeCloudFront } from '@cdc/testing';
import { CloudflarePurger } from './cloudflare-purger';
import { CloudFrontPurger } from './cloudfront-purger';
import { PurgeError } from './purge-error';
import { PlannedRequest } from './purge-plan';

const TOKEN = 'providers-token-5150';
const ZONE = 'feedfacefeedfacefeedfacefeedface';

async function failure(p: Promise<unknown>): Promise<PurgeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PurgeError, `a PurgeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the purge to fail');
}

function cfReq(kind: PlannedRequest['kind'], values: string[], headers?: Record<string, string>): PlannedRequest {
  return { provider: 'cloudflare', target: 'shop', kind, items: values.map((value) => (headers ? { kind, value, headers } : { kind, value })), entryIds: ['1-0'] };
}

describe('provider clients against the fake CDN APIs', () => {
  let cf: FakeCloudflare;
  let cfr: FakeCloudFront;
  let cloudflare: CloudflarePurger;
  let cloudfront: CloudFrontPurger;

  before(async () => {
    cf = await FakeCloudflare.start({ token: TOKEN, zones: [ZONE], ratePerSec: 1000 });
    cfr = await FakeCloudFront.start({ distributions: ['E9'], accessKeyId: 'AKIAPROVIDERS', completeAfterMs: 200, ratePerSec: 1000 });
    cloudflare = new CloudflarePurger({
      apiUrl: cf.url,
      apiToken: TOKEN,
      timeoutMs: 500,
      zones: new Map([['shop', { alias: 'shop', zoneId: ZONE, maxUrlsPerRequest: 30, maxItemsPerRequest: 100, ratePerSec: 100, burst: 100 }]]),
    });
    cloudfront = new CloudFrontPurger(
      { endpoint: cfr.url, region: 'us-east-1', timeoutMs: 500, capacityPollMaxMs: 100, distributions: new Map([['web', { alias: 'web', distributionId: 'E9', maxPathsPerRequest: 3000, maxWildcardsPerRequest: 15, ratePerSec: 100, burst: 100 }]]) },
      { AWS_ACCESS_KEY_ID: 'AKIAPROVIDERS', AWS_SECRET_ACCESS_KEY: 'providers-secret' },
    );
    process.env.AWS_ACCESS_KEY_ID = 'AKIAPROVIDERS';
    process.env.AWS_SECRET_ACCESS_KEY = 'providers-secret';
  });

  after(async () => {
    cloudflare.close();
    cloudfront.close();
    await cf.stop();
    await cfr.stop();
  });

  it('Cloudflare: sends every documented body variant with the Bearer token', async () => {
    await cloudflare.purge(cfReq('files', ['https://shop.example.com/a']));
    await cloudflare.purge(cfReq('files', ['https://shop.example.com/m'], { 'CF-Device-Type': 'mobile' }));
    await cloudflare.purge(cfReq('tags', ['product-1', 'product-2']));
    await cloudflare.purge(cfReq('hosts', ['shop.example.com']));
    await cloudflare.purge(cfReq('prefixes', ['shop.example.com/p/']));
    assert.deepEqual(cf.requests.slice(-5).map((r) => r.body), [
      { files: ['https://shop.example.com/a'] },
      { files: [{ url: 'https://shop.example.com/m', headers: { 'CF-Device-Type': 'mobile' } }] },
      { tags: ['product-1', 'product-2'] },
      { hosts: ['shop.example.com'] },
      { prefixes: ['shop.example.com/p/'] },
    ]);
    assert.ok(cf.requests.slice(-5).every((r) => r.status === 200 && r.authorization === `Bearer ${TOKEN}`));
  });

  it('Cloudflare: classifies limits, rate limits, server errors, timeouts and dropped connections', async () => {
    const tooMany = await failure(cloudflare.purge(cfReq('files', Array.from({ length: 31 }, (_, i) => `https://shop.example.com/${i}`))));
    assert.equal(tooMany.failure, 'rejected');
    assert.match(tooMany.message, new RegExp(`HTTP 400: rejected: ${CF_ERROR.tooManyFiles}`));

    const slow = await FakeCloudflare.start({ token: TOKEN, ratePerSec: 1, burst: 1 });
    try {
      const p = new CloudflarePurger({ apiUrl: slow.url, apiToken: TOKEN, timeoutMs: 500, zones: new Map([['shop', { alias: 'shop', zoneId: ZONE, maxUrlsPerRequest: 30, maxItemsPerRequest: 100, ratePerSec: 1, burst: 1 }]]) });
      await p.purge(cfReq('tags', ['a']));
      const limited = await failure(p.purge(cfReq('tags', ['b'])));
      assert.equal(limited.failure, 'rate-limited');
      assert.equal(limited.retryAfterMs, 1000, 'Retry-After honoured');
      p.close();
    } finally {
      await slow.stop();
    }

    cf.faults.fail({ kind: 'status', status: 503 }, 1);
    assert.equal((await failure(cloudflare.purge(cfReq('tags', ['x'])))).failure, 'transient');
    cf.faults.fail({ kind: 'hang' }, 1);
    const timeout = await failure(cloudflare.purge(cfReq('tags', ['x'])));
    assert.deepEqual([timeout.failure, timeout.metricStatus], ['transient', 'timeout']);
    cf.faults.fail({ kind: 'drop' }, 1);
    assert.equal((await failure(cloudflare.purge(cfReq('tags', ['x'])))).failure, 'transient');
  });

  it('CloudFront: a retried request (same CallerReference) returns the existing invalidation', async () => {
    const req: PlannedRequest = { provider: 'cloudfront', target: 'web', kind: 'paths', items: [{ kind: 'paths', value: '/a&b' }, { kind: 'paths', value: '/c/*' }], entryIds: ['7-0'] };
    await cloudfront.purge(req);
    await cloudfront.purge(req);
    const created = cfr.invalidations('E9');
    assert.equal(created.length, 1);
    assert.deepEqual([...created[0].paths].sort(), ['/a&b', '/c/*']);
    assert.ok(cfr.requests.every((r) => r.authorization?.startsWith('AWS4-HMAC-SHA256 Credential=AKIAPROVIDERS/')), 'SigV4-signed with the default chain credentials');
  });

  it('CloudFront: classifies invalid paths, 5xx, throttling and capacity', async () => {
    const bad = await failure(cloudfront.purge({ provider: 'cloudfront', target: 'web', kind: 'paths', items: [{ kind: 'paths', value: '/a*b' }], entryIds: ['8-0'] }));
    assert.equal(bad.failure, 'rejected');
    assert.match(bad.message, /InvalidArgument/);
    cfr.faults.fail({ kind: 'status', status: 500 }, 1);
    assert.equal((await failure(cloudfront.purge({ provider: 'cloudfront', target: 'web', kind: 'paths', items: [{ kind: 'paths', value: '/z' }], entryIds: ['9-0'] }))).failure, 'transient');

    const tight = await FakeCloudFront.start({ ratePerSec: 1, maxWildcardPathsInProgress: 1, completeAfterMs: 1600 });
    const p = new CloudFrontPurger({ endpoint: tight.url, region: 'us-east-1', timeoutMs: 500, capacityPollMaxMs: 100, distributions: new Map([['web', { alias: 'web', distributionId: 'E9', maxPathsPerRequest: 3000, maxWildcardsPerRequest: 15, ratePerSec: 1, burst: 1 }]]) });
    try {
      const wild = (id: string): PlannedRequest => ({ provider: 'cloudfront', target: 'web', kind: 'paths', items: [{ kind: 'paths', value: `/${id}/*` }], entryIds: [id] });
      await p.purge(wild('1-0'));
      assert.equal((await failure(p.purge(wild('2-0')))).failure, 'rate-limited', 'Throttling');
      await new Promise((r) => setTimeout(r, 1000));
      const busy = await failure(p.purge(wild('3-0')));
      assert.equal(busy.failure, 'capacity', 'TooManyInvalidationsInProgress');
      await p.waitForCapacity('web');
      await new Promise((r) => setTimeout(r, 1000)); // the rejected call used this second's token
      await p.purge(wild('3-0'));
      assert.equal(tight.invalidations().length, 2);
    } finally {
      p.close();
      await tight.stop();
    }
  });
});
