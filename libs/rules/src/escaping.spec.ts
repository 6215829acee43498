import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent } from '@cdc/core';
import { globEscape, urlSegmentEncode } from './escaping';
import { compileRules } from './load';

const rules = compileRules(
  `version: 1
rules:
  - name: safe
    table: public.products
    invalidate:
      keys: ["product:slug:{slug}"]
      patterns: ["search:{slug}:*", "static:*:[ab]"]
      cdn:
        cloudflare:
          zone: shop
          files:
            - "https://shop.example.com/p/{slug}?v={slug}"
            - { url: "https://m.shop.example.com/p/{slug}", headers: { CF-Device-Type: mobile } }
          prefixes: ["shop.example.com/c/{slug}"]
          tags: ["product-{slug}"]
        cloudfront: { distribution: web, paths: ["/p/{slug}", "/p/{slug}/*"] }
`,
  'safe.yaml',
);

function matchFor(slug: unknown) {
  const e: ChangeEvent = { op: 'insert', schema: 'public', table: 'products', after: { slug }, commitTimeMs: 1, position: '1' };
  const [m] = rules.evaluate(e);
  return m;
}

describe('glob escaping in patterns (promise 7)', () => {
  it('escapes * ? [ ] \\ in interpolated values, never in the static text', () => {
    assert.deepEqual(matchFor('*').patterns, ['search:\\*:*', 'static:*:[ab]']);
    assert.deepEqual(matchFor('a[bc]?').patterns, ['search:a\\[bc\\]\\?:*', 'static:*:[ab]']);
    assert.deepEqual(matchFor('back\\slash').patterns, ['search:back\\\\slash:*', 'static:*:[ab]']);
  });

  it('leaves keys alone: a key is deleted by name, not matched', () => {
    assert.deepEqual(matchFor('*').keys, ['product:slug:*']);
  });

  it('an escaped value matches only itself under Redis glob rules', () => {
    const hostile = ['*', 'a[bc]?', '[^a]*', 'x\\*y', '?', 'a-z]'];
    const others = ['', 'anything', 'abZ', 'ab', 'b', 'x*y', 'xy', 'a', 'Z'];
    // Unescaped, the same values would widen: the reference matcher is not vacuous.
    assert.ok(redisGlobToRegExp('*').test('anything'));
    assert.ok(redisGlobToRegExp('a[bc]?').test('abZ'));
    assert.ok(redisGlobToRegExp('[^a]*').test('b'));
    for (const value of hostile) {
      const re = redisGlobToRegExp(globEscape(value)!);
      assert.ok(re.test(value), `${value} matches its own escaped pattern`);
      for (const other of others) if (other !== value) assert.ok(!re.test(other), `${value} must not widen to ${other}`);
    }
  });
});

describe('URL encoding in CDN templates (promise 7)', () => {
  const hostile = 'evil.com/../x?y#z';

  it('keeps a hostile value inside its path segment; host unchanged', () => {
    const m = matchFor(hostile);
    const files = m.cdn.filter((c) => c.kind === 'files');
    assert.deepEqual(files, [
      {
        provider: 'cloudflare',
        target: 'shop',
        kind: 'files',
        value: 'https://shop.example.com/p/evil.com%2F..%2Fx%3Fy%23z?v=evil.com%2F..%2Fx%3Fy%23z',
      },
      {
        provider: 'cloudflare',
        target: 'shop',
        kind: 'files',
        value: 'https://m.shop.example.com/p/evil.com%2F..%2Fx%3Fy%23z',
        headers: { 'CF-Device-Type': 'mobile' },
      },
    ]);
    for (const f of files) {
      const url = new URL(f.value);
      assert.ok(url.host === 'shop.example.com' || url.host === 'm.shop.example.com');
      assert.equal(url.pathname, '/p/evil.com%2F..%2Fx%3Fy%23z');
      assert.equal(url.hash, '');
    }
  });

  it('encodes prefixes and CloudFront paths the same way, including *', () => {
    const m = matchFor('a/b*');
    assert.deepEqual(
      m.cdn.filter((c) => c.kind === 'prefixes').map((c) => c.value),
      ['shop.example.com/c/a%2Fb%2A'],
    );
    assert.deepEqual(
      m.cdn.filter((c) => c.kind === 'paths').map((c) => c.value),
      ['/p/a%2Fb%2A', '/p/a%2Fb%2A/*'],
    );
  });

  it('a value of . or .. yields no URL (it would resolve to the parent path)', () => {
    for (const slug of ['.', '..']) {
      const m = matchFor(slug);
      assert.deepEqual(m.cdn.filter((c) => c.kind !== 'tags'), [], slug);
      assert.deepEqual(m.keys, [`product:slug:${slug}`]);
    }
  });

  it('does not encode Cloudflare tags (no URL to escape from)', () => {
    assert.deepEqual(
      matchFor('a/b').cdn.filter((c) => c.kind === 'tags').map((c) => c.value),
      ['product-a/b'],
    );
  });

  it('urlSegmentEncode encodes every reserved character', () => {
    assert.equal(urlSegmentEncode("a b/c?d#e@f:g%h!'()*"), 'a%20b%2Fc%3Fd%23e%40f%3Ag%25h%21%27%28%29%2A');
    assert.equal(urlSegmentEncode('ünï'), '%C3%BCn%C3%AF');
  });

  it('exposes the CDN aliases the rules use', () => {
    assert.deepEqual(rules.cdnAliases, { cloudflare: ['shop'], cloudfront: ['web'] });
  });
});

/** Reference translation of Redis glob syntax (stringmatchlen: * ? [..] [^..] ranges, \\ escapes) for checking. */
function redisGlobToRegExp(glob: string): RegExp {
  const lit = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\' && i + 1 < glob.length) out += lit(glob[++i]);
    else if (c === '*') out += '[\\s\\S]*';
    else if (c === '?') out += '[\\s\\S]';
    else if (c === '[') {
      let cls = '[';
      i++;
      if (glob[i] === '^') {
        cls += '^';
        i++;
      }
      while (i < glob.length && glob[i] !== ']') {
        if (glob[i] === '\\' && i + 1 < glob.length) cls += lit(glob[++i]);
        else if (glob[i + 1] === '-' && i + 2 < glob.length && glob[i + 2] !== ']') {
          cls += `${lit(glob[i])}-${lit(glob[i + 2])}`;
          i += 2;
        } else cls += lit(glob[i]);
        i++;
      }
      out += cls + ']';
    } else out += lit(c);
  }
  return new RegExp(`^${out}$`);
}
