import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '@cdc/core';
import { cdnConfigFromEnv, checkAliases } from './cdn-config';

describe('cdnConfigFromEnv', () => {
  it('reads zones, distributions, per-target options and defaults', () => {
    const c = cdnConfigFromEnv({
      CLOUDFLARE_ZONES: 'shop=0123abcd?urls=500&rate=50, blog=4567ef',
      CLOUDFLARE_API_TOKEN: 't0ken',
      CLOUDFRONT_DISTRIBUTIONS: 'web=E123ABC',
      CDN_COALESCE_MS: '250',
    });
    const shop = c.cloudflare!.zones.get('shop')!;
    assert.deepEqual([shop.zoneId, shop.maxUrlsPerRequest, shop.ratePerSec, shop.burst], ['0123abcd', 500, 50, 250]);
    const blog = c.cloudflare!.zones.get('blog')!;
    assert.deepEqual([blog.maxUrlsPerRequest, blog.maxItemsPerRequest, blog.ratePerSec], [30, 100, 5]);
    assert.equal(c.cloudflare!.apiUrl, 'https://api.cloudflare.com');
    const web = c.cloudfront!.distributions.get('web')!;
    assert.deepEqual([web.distributionId, web.maxPathsPerRequest, web.maxWildcardsPerRequest], ['E123ABC', 3000, 15]);
    assert.equal(c.cloudfront!.region, 'us-east-1');
    assert.equal(c.worker.coalesceMs, 250);
    assert.equal(c.worker.maxAttempts, 10);
    assert.equal(c.outbox.stream, 'cdc:{cdn}:outbox');
    assert.equal(c.outbox.deadLetterStream, 'cdc:{cdn}:outbox:dead');
  });

  it('is empty of providers when none is configured', () => {
    const c = cdnConfigFromEnv({});
    assert.equal(c.cloudflare, undefined);
    assert.equal(c.cloudfront, undefined);
  });

  it('names every bad variable in one error, without echoing the token', () => {
    let err: unknown;
    try {
      cdnConfigFromEnv({
        CLOUDFLARE_ZONES: 'shop=zone-with-dash,broken,shop=abc?bogus=1',
        CLOUDFLARE_MAX_URLS_PER_REQUEST: '0',
        CLOUDFRONT_DISTRIBUTIONS: 'web=e-lower',
        CDN_MAX_ATTEMPTS: 'ten',
        CDN_COALESCE_MS: '-5',
        CLOUDFLARE_API_URL: 'ftp://x',
      });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    const msg = (err as Error).message;
    for (const name of ['shop: expected a zone id', 'expected alias=id', 'unknown option "bogus"', 'CLOUDFLARE_MAX_URLS_PER_REQUEST', 'CLOUDFRONT_DISTRIBUTIONS', 'CDN_MAX_ATTEMPTS', 'CDN_COALESCE_MS', 'CLOUDFLARE_API_URL', 'CLOUDFLARE_API_TOKEN: required']) {
      assert.ok(msg.includes(name), `mentions ${name}:\n${msg}`);
    }
  });
});

describe('checkAliases', () => {
  it('reports aliases the rules use that the configuration lacks', () => {
    const c = cdnConfigFromEnv({ CLOUDFLARE_ZONES: 'shop=abc', CLOUDFLARE_API_TOKEN: 'x' });
    const problems = checkAliases(
      [
        { provider: 'cloudflare', target: 'shop' },
        { provider: 'cloudflare', target: 'blog' },
        { provider: 'cloudflare', target: 'blog' },
        { provider: 'cloudfront', target: 'web' },
      ],
      c,
    );
    assert.equal(problems.length, 2);
    assert.match(problems[0], /cloudflare zone "blog".*configured: shop/);
    assert.match(problems[1], /cloudfront distribution "web".*configured: none/);
  });
});
