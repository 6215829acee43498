import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ChangeEvent } from '@cdc/core';
import { loadRulesFile } from './load';

/** The repository root, found from this file whether it runs from source (tsx) or from dist/. */
function exampleFile(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'examples', 'rules.yaml');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
  }
  throw new Error('examples/rules.yaml not found above ' + __dirname);
}

describe('examples/rules.yaml', () => {
  const rules = loadRulesFile(exampleFile());

  it('compiles without warnings and names the shop tables and CDN aliases', () => {
    assert.deepEqual(rules.warnings, []);
    assert.match(rules.hash, /^[0-9a-f]{64}$/);
    assert.deepEqual(rules.tablePatterns(), ['public.products', 'public.categories', 'public.articles']);
    assert.deepEqual(rules.cdnAliases, { cloudflare: ['shop'], cloudfront: ['web'] });
    assert.deepEqual(rules.defaultChannels, ['cache-invalidation']);
    assert.deepEqual([...rules.staticChannels], ['cache-invalidation', 'l1:products'], 'the channels the L1 sink beats on from the start');
    const page = rules.rules.find((r) => r.name === 'product-page')!;
    assert.deepEqual(page.ops, ['insert', 'update', 'delete']);
    assert.ok(page.columns.some((c) => c.side === 'before' && c.column === 'slug'));
  });

  it('maps a product rename to old and new keys, tags and URLs', () => {
    const event: ChangeEvent = {
      op: 'update',
      schema: 'public',
      table: 'products',
      before: { id: 7, slug: 'Red-Shoe', title: 'Red shoe', price: '10.00', status: 'published', category_id: 3, description: 'd' },
      after: { id: 7, slug: 'red-shoe-2', title: 'Red shoe', price: '10.00', status: 'published', category_id: 3, description: 'd' },
      commitTimeMs: 1,
      position: '0/1',
    };
    const matches = rules.evaluate(event);
    assert.deepEqual(matches.map((m) => m.rule), ['product-page', 'home-featured']);
    const [page] = matches;
    assert.deepEqual(page.keys, ['product:7', 'product:slug:red-shoe', 'product:slug:red-shoe-2']);
    assert.deepEqual(page.tags, ['product-7', 'category-3']);
    assert.deepEqual(page.channels, ['l1:products']);
    assert.deepEqual(
      page.cdn.map((c) => `${c.provider}:${c.target}:${c.kind}:${c.value}${c.headers ? ' ' + JSON.stringify(c.headers) : ''}`),
      [
        'cloudflare:shop:files:https://shop.example.com/p/Red-Shoe',
        'cloudflare:shop:files:https://shop.example.com/p/red-shoe-2',
        'cloudflare:shop:files:https://shop.example.com/p/red-shoe-2 {"CF-Device-Type":"mobile"}',
        'cloudflare:shop:tags:product-7',
        'cloudfront:web:paths:/api/products/7',
        'cloudfront:web:paths:/p/Red-Shoe',
        'cloudfront:web:paths:/p/red-shoe-2',
      ],
    );
  });

  it('takes an unpublished product off the home page, and ignores drafts', () => {
    const change = (before: string, after: string): ChangeEvent => ({
      op: 'update',
      schema: 'public',
      table: 'products',
      before: { id: 7, slug: 's', title: 't', price: '1', status: before, category_id: 3, description: 'd' },
      after: { id: 7, slug: 's', title: 't', price: '2', status: after, category_id: 3, description: 'd' },
      commitTimeMs: 1,
      position: '0/1',
    });
    const fired = (e: ChangeEvent) => rules.evaluate(e).map((m) => m.rule);
    assert.ok(fired(change('published', 'draft')).includes('home-featured'), 'unpublished');
    assert.ok(fired(change('draft', 'featured')).includes('home-featured'), 'published');
    assert.ok(!fired(change('draft', 'draft')).includes('home-featured'), 'a draft stays off the home page');
  });
});
