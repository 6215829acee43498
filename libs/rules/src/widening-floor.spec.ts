import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent, RulesError } from '@cdc/core';
import { compileRules } from './load';

const RULES = `version: 1
rules:
  - name: widen
    table: public.products
    invalidate:
      keys: ["product:slug:{slug}"]
      patterns: ["{slug}*", "search:{slug}:*", "search:products:*"]
      cdn:
        cloudflare:
          zone: shop
          prefixes: ["shop.example.com/p/{slug}"]
          files: ["https://shop.example.com/p/{slug}"]
        cloudfront: { distribution: web, paths: ["/c/{slug}/*", "/c/{slug}"] }
`;

function matchFor(slug: unknown, minPatternPrefix = 1) {
  const rules = compileRules(RULES, 'widen.yaml', { minPatternPrefix });
  const e: ChangeEvent = { op: 'insert', schema: 'public', table: 'products', after: { slug }, commitTimeMs: 1, position: '1' };
  const [m] = rules.evaluate(e);
  return m;
}

/** Compiles one rule whose invalidate block is `invalidate`, returning the error messages (none when it compiles). */
function errorsOf(invalidate: string, minPatternPrefix?: number): string[] {
  const text = `version: 1\nrules:\n  - name: r\n    table: public.t\n    invalidate: ${invalidate}\n`;
  try {
    compileRules(text, 'floor.yaml', minPatternPrefix === undefined ? {} : { minPatternPrefix });
    return [];
  } catch (err) {
    assert.ok(err instanceof RulesError);
    return err.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
  }
}

describe('an empty value never widens a delete (issue 8 part 1)', () => {
  it('a pattern whose placeholder renders empty yields nothing, counted as missing (empty)', () => {
    const m = matchFor('');
    // Before the fix: ['*', 'search::*', 'search:products:*'].
    assert.deepEqual(m.patterns, ['search:products:*']);
    const empties = m.missing.filter((x) => x.reason === 'empty');
    assert.deepEqual(
      empties.map((x) => x.template).sort(),
      ['/c/{slug}/*', '{slug}*', 'search:{slug}:*', 'shop.example.com/p/{slug}'].sort(),
    );
    for (const x of empties) assert.equal(x.column, 'slug');
  });

  it('a Cloudflare prefix and a CloudFront wildcard path whose placeholder renders empty yield nothing', () => {
    const m = matchFor('');
    const values = m.cdn.map((c) => `${c.kind}:${c.value}`);
    // Before the fix: prefixes:shop.example.com/p/ and paths:/c//*.
    assert.ok(!values.includes('prefixes:shop.example.com/p/'), values.join(', '));
    assert.ok(!values.includes('paths:/c//*'), values.join(', '));
    // Templates that name one object still render (an empty value cannot widen them).
    assert.ok(values.includes('files:https://shop.example.com/p/'));
    assert.ok(values.includes('paths:/c/'));
  });

  it('a value emptied by a filter is refused too; a non-empty value renders as before', () => {
    const rules = compileRules(
      `version: 1\nrules:\n  - name: t\n    table: public.p\n    invalidate:\n      patterns: ["search:{slug|trim}:*"]\n`,
      't.yaml',
    );
    const ev = (slug: string): ChangeEvent => ({ op: 'insert', schema: 'public', table: 'p', after: { slug }, commitTimeMs: 1, position: '1' });
    assert.deepEqual(rules.evaluate(ev('   '))[0].patterns, []);
    assert.equal(rules.evaluate(ev('   '))[0].missing[0].reason, 'empty');
    assert.deepEqual(rules.evaluate(ev(' ab '))[0].patterns, ['search:ab:*']);
    assert.deepEqual(matchFor('ab').patterns, ['ab*', 'search:ab:*', 'search:products:*']);
  });

  it('NULL stays silent (no cache entry is keyed by NULL)', () => {
    const m = matchFor(null);
    assert.deepEqual(m.patterns, ['search:products:*']);
    assert.deepEqual(m.missing, []);
  });
});

describe('the floor under every pattern and CDN wildcard (issue 8 part 1)', () => {
  it("refuses '*' alone at load, with file:line:column", () => {
    const errors = errorsOf('{ patterns: ["*"] }');
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^5:\d+: pattern '\*' keeps 0 literal character\(s\) before its first glob character; at least 3 are required \(PATTERN_MIN_PREFIX\)/);
  });

  it('counts static text and at least one character per placeholder against the configured minimum', () => {
    assert.match(errorsOf('{ patterns: ["ab*"] }').join(), /keeps 2 literal/);
    assert.match(errorsOf('{ patterns: ["?x"] }').join(), /keeps 0 literal/);
    assert.match(errorsOf('{ patterns: ["[a-z]*"] }').join(), /keeps 0 literal/);
    assert.match(errorsOf('{ patterns: ["{id}*"] }').join(), /keeps 1 literal/);
    assert.deepEqual(errorsOf('{ patterns: ["p:{id}*"] }'), []);
    assert.deepEqual(errorsOf('{ patterns: ["abc*"] }'), []);
    assert.deepEqual(errorsOf('{ patterns: ["\\\\*\\\\*"] }'), [], 'escaped glob characters are literal: no floor');
    assert.deepEqual(errorsOf('{ patterns: ["{id}*"] }', 1), []);
    assert.match(errorsOf('{ patterns: ["search:*"] }', 10).join(), /at least 10 are required/);
  });

  it('a Cloudflare prefix must keep a non-empty path segment after its host', () => {
    assert.match(errorsOf('{ cdn: { cloudflare: { zone: shop, prefixes: ["shop.example.com/"] } } }').join(), /at least one non-empty path segment/);
    assert.match(errorsOf('{ cdn: { cloudflare: { zone: shop, prefixes: ["shop.example.com"] } } }').join(), /at least one non-empty path segment/);
    assert.match(errorsOf('{ cdn: { cloudflare: { zone: shop, prefixes: ["shop.example.com//"] } } }').join(), /at least one non-empty path segment/);
    assert.deepEqual(errorsOf('{ cdn: { cloudflare: { zone: shop, prefixes: ["shop.example.com/p/", "shop.example.com/{id}"] } } }'), []);
  });

  it('a CloudFront wildcard path must keep a non-empty path segment before its *', () => {
    assert.match(errorsOf('{ cdn: { cloudfront: { distribution: web, paths: ["/*"] } } }').join(), /CloudFront wildcard path '\/\*' must keep at least one non-empty path segment/);
    assert.match(errorsOf('{ cdn: { cloudfront: { distribution: web, paths: ["//*"] } } }').join(), /non-empty path segment/);
    assert.deepEqual(errorsOf('{ cdn: { cloudfront: { distribution: web, paths: ["/p/*", "/{id}/*", "/"] } } }'), []);
  });
});
