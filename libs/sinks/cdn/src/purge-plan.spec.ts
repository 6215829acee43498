import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { callerReference } from './caller-reference';
import { OutboxEntry, PurgeItem, decodeEntry, encodeBatch } from './outbox-entry';
import { PlanLimits, cloudflareDirectory, cloudfrontDirectory, planPurges } from './purge-plan';
import { batchOf, cfFile, cfPath } from './cdn-fixtures.test-helper';

const limits: PlanLimits = { maxUrlsPerRequest: 30, maxItemsPerRequest: 100, maxPathsPerRequest: 3000, maxWildcardsPerRequest: 15, collapseThreshold: 0 };

let seq = 0;
function entry(provider: 'cloudflare' | 'cloudfront', items: PurgeItem[], id = `1700000000000-${seq++}`): OutboxEntry {
  return { id, provider, target: 't', purges: items, position: '0/1', commitTimeMs: 0, enqueuedAtMs: 0, redriven: false };
}
const file = (v: string, headers?: Record<string, string>): PurgeItem => (headers ? { kind: 'files', value: v, headers } : { kind: 'files', value: v });
const path = (v: string): PurgeItem => ({ kind: 'paths', value: v });

describe('planPurges: batching to provider limits', () => {
  it('splits Cloudflare files into requests of at most maxUrlsPerRequest, one kind per request', () => {
    const files = Array.from({ length: 75 }, (_, i) => file(`https://a.example/x${String(i).padStart(3, '0')}`));
    const tags = Array.from({ length: 250 }, (_, i) => ({ kind: 'tags' as const, value: `tag-${i}` }));
    const plan = planPurges('cloudflare', 't', [entry('cloudflare', [...files, ...tags])], limits);
    const byKind = (k: string) => plan.requests.filter((r) => r.kind === k).map((r) => r.items.length);
    assert.deepEqual(byKind('files'), [30, 30, 15]);
    assert.deepEqual(byKind('tags'), [100, 100, 50]);
    assert.ok(plan.requests.every((r) => r.items.every((i) => i.kind === r.kind)));
  });

  it('honours a per-zone Enterprise limit of 500 URLs', () => {
    const files = Array.from({ length: 750 }, (_, i) => file(`https://a.example/${i}`));
    const plan = planPurges('cloudflare', 't', [entry('cloudflare', files)], { ...limits, maxUrlsPerRequest: 500 });
    assert.deepEqual(plan.requests.map((r) => r.items.length), [500, 250]);
  });

  it('splits CloudFront paths at 3,000 per invalidation and 15 wildcards per invalidation', () => {
    const paths = Array.from({ length: 6500 }, (_, i) => path(`/p/${i}`));
    const plan = planPurges('cloudfront', 't', [entry('cloudfront', paths)], limits);
    assert.deepEqual(plan.requests.map((r) => r.items.length), [3000, 3000, 500]);
    const wild = Array.from({ length: 40 }, (_, i) => path(`/w${String(i).padStart(2, '0')}/*`));
    const wplan = planPurges('cloudfront', 't', [entry('cloudfront', wild)], limits);
    assert.deepEqual(wplan.requests.map((r) => r.items.filter((i) => i.value.endsWith('*')).length), [15, 15, 10]);
  });
});

describe('planPurges: dedup and coalescing across entries', () => {
  it('sends each distinct item once and attributes the request to every entry that asked for it', () => {
    const a = entry('cloudflare', [file('https://a.example/1'), file('https://a.example/2')], '10-0');
    const b = entry('cloudflare', [file('https://a.example/2'), file('https://a.example/3')], '11-0');
    const c = entry('cloudflare', [file('https://a.example/1')], '9-5');
    const plan = planPurges('cloudflare', 't', [a, b, c], limits);
    assert.equal(plan.itemsIn, 5);
    assert.equal(plan.requests.length, 1);
    assert.deepEqual(plan.requests[0].items.map((i) => i.value), ['https://a.example/1', 'https://a.example/2', 'https://a.example/3']);
    assert.deepEqual(plan.requests[0].entryIds, ['9-5', '10-0', '11-0'], 'numeric stream-id order');
  });

  it('keeps the same URL with different cache-key headers as distinct purges', () => {
    const plan = planPurges('cloudflare', 't', [entry('cloudflare', [file('https://a.example/1', { 'CF-Device-Type': 'mobile' }), file('https://a.example/1')])], limits);
    assert.equal(plan.requests[0].items.length, 2);
  });

  it('is deterministic: the same entries in any order give the same requests', () => {
    const e1 = entry('cloudfront', [path('/b'), path('/a')], '5-0');
    const e2 = entry('cloudfront', [path('/c'), path('/a')], '6-0');
    assert.deepEqual(planPurges('cloudfront', 't', [e1, e2], limits), planPurges('cloudfront', 't', [e2, e1], limits));
  });
});

describe('planPurges: storm collapse', () => {
  const c = { ...limits, collapseThreshold: 50 };

  it('collapses more than the threshold of CloudFront paths under one directory into one wildcard', () => {
    const many = Array.from({ length: 60 }, (_, i) => path(`/p/${i}`));
    const plan = planPurges('cloudfront', 't', [entry('cloudfront', [...many, path('/other/1'), path('/root')])], c);
    assert.equal(plan.collapsed, 1);
    assert.deepEqual(plan.requests.flatMap((r) => r.items.map((i) => i.value)), ['/other/1', '/p/*', '/root']);
  });

  it('does not collapse at or below the threshold, nor to a whole-site purge', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => path(`/p/${i}`));
    assert.equal(planPurges('cloudfront', 't', [entry('cloudfront', fifty)], c).collapsed, 0);
    const rootLevel = Array.from({ length: 80 }, (_, i) => path(`/${i}`));
    assert.equal(planPurges('cloudfront', 't', [entry('cloudfront', rootLevel)], c).collapsed, 0);
  });

  it('collapses Cloudflare URLs into a prefix purge (no scheme) and drops URLs a prefix covers', () => {
    const many = Array.from({ length: 51 }, (_, i) => file(`https://shop.example.com/p/${i}?v=1`));
    const plan = planPurges('cloudflare', 't', [entry('cloudflare', [...many, file('https://shop.example.com/q/1')], '1-0')], c);
    assert.equal(plan.collapsed, 1);
    assert.deepEqual(plan.requests.map((r) => [r.kind, r.items.map((i) => i.value)]), [
      ['files', ['https://shop.example.com/q/1']],
      ['prefixes', ['shop.example.com/p/']],
    ]);
    const covered = planPurges('cloudflare', 't', [entry('cloudflare', [{ kind: 'prefixes', value: 'shop.example.com/p/' }, file('https://shop.example.com/p/9')], '2-0')], limits);
    assert.deepEqual(covered.requests.map((r) => r.kind), ['prefixes'], 'covered file dropped even with collapse disabled');
  });

  it('drops CloudFront paths covered by a wildcard in the same plan, keeping their entries on the wildcard request', () => {
    const plan = planPurges('cloudfront', 't', [entry('cloudfront', [path('/p/*')], '1-0'), entry('cloudfront', [path('/p/a/*'), path('/p/x'), path('/q')], '2-0')], limits);
    const wild = plan.requests.find((r) => r.items.some((i) => i.value === '/p/*'))!;
    assert.deepEqual(plan.requests.flatMap((r) => r.items.map((i) => i.value)), ['/p/*', '/q']);
    assert.deepEqual(wild.entryIds, ['1-0', '2-0']);
  });

  it('finds directories', () => {
    assert.equal(cloudfrontDirectory('/a/b/c?x=/y'), '/a/b/');
    assert.equal(cloudfrontDirectory('/top'), undefined);
    assert.equal(cloudflareDirectory('https://h.example/a/b'), 'h.example/a/');
    assert.equal(cloudflareDirectory('https://h.example/a'), undefined);
  });
});

describe('callerReference', () => {
  it('is stable for the same distribution, paths and entries in any order, and differs otherwise', () => {
    const r = callerReference('E1', ['/b', '/a'], ['2-0', '1-0']);
    assert.equal(r, callerReference('E1', ['/a', '/b'], ['1-0', '2-0']));
    assert.notEqual(r, callerReference('E2', ['/a', '/b'], ['1-0', '2-0']));
    assert.notEqual(r, callerReference('E1', ['/a'], ['1-0', '2-0']));
    assert.notEqual(r, callerReference('E1', ['/a', '/b'], ['1-0', '3-0']));
    assert.match(r, /^cdc-[0-9a-f]{48}$/);
  });
});

describe('outbox entry encoding', () => {
  it('groups a batch by provider/target, chunks large ones, and round-trips', () => {
    const batch = batchOf([cfFile('https://a/1'), cfFile('https://a/2'), cfFile('https://b/1', 'blog'), cfPath('/x'), cfPath('/y'), cfPath('/z')], { commitTimeMs: 1234.5, position: '0/ABC' });
    const encoded = encodeBatch(batch, 2, 999);
    assert.equal(encoded.length, 4, 'shop(2) + blog(1) + web(3 → 2 chunks)');
    const decoded = encoded.map((f, i) => decodeEntry(`5-${i}`, f));
    assert.deepEqual(decoded[0], {
      id: '5-0', provider: 'cloudflare', target: 'shop', purges: [file('https://a/1'), file('https://a/2')],
      position: '0/ABC', commitTimeMs: 1234.5, enqueuedAtMs: 999, redriven: false,
    });
    assert.deepEqual(decoded.slice(2).map((d) => d.purges.length), [2, 1]);
  });

  it('rejects malformed entries with a reason', () => {
    assert.throws(() => decodeEntry('1-0', ['provider', 'akamai', 'target', 't', 'purges', '[]']), /unknown provider/);
    assert.throws(() => decodeEntry('1-0', ['provider', 'cloudfront', 'target', 't', 'purges', '{']), /not JSON/);
    assert.throws(() => decodeEntry('1-0', ['provider', 'cloudfront', 'target', 't', 'purges', '[{"kind":"files","value":"x"}]']), /bad purge item/);
  });
});
