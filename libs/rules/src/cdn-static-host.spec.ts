import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent, RulesError } from '@cdc/core';
import { compileRules } from './load';

function errorsOf(cloudflare: string): string[] {
  const text = `version: 1\nrules:\n  - name: r\n    table: public.t\n    invalidate:\n      cdn:\n        cloudflare: ${cloudflare}\n`;
  try {
    compileRules(text, 'hosts.yaml');
    return [];
  } catch (err) {
    assert.ok(err instanceof RulesError);
    return err.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
  }
}

describe('static CDN hosts and ports are validated at load (issue 8 part 8)', () => {
  it('refuses a port outside 1-65535 in a file URL, with a position', () => {
    const errors = errorsOf('{ zone: shop, files: ["https://shop.example.com:99999/p/{id}"] }');
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^7:\d+: Cloudflare file URL .*port '99999' .* must be a number from 1 to 65535/);
    assert.match(errorsOf('{ zone: shop, files: ["https://shop.example.com:0/p/{id}"] }').join(), /port '0'/);
    assert.match(errorsOf('{ zone: shop, files: ["https://shop.example.com:http/p/{id}"] }').join(), /port 'http'/);
  });

  it('refuses malformed host names in files, prefixes and hosts', () => {
    assert.match(errorsOf('{ zone: shop, files: ["https://shop..example.com/p/{id}"] }').join(), /not a valid host name/);
    assert.match(errorsOf('{ zone: shop, files: ["https://-shop.example.com/p/{id}"] }').join(), /not a valid host name/);
    assert.match(errorsOf('{ zone: shop, files: ["https://user:pw@shop.example.com/p/{id}"] }').join(), /must not carry credentials/);
    assert.match(errorsOf('{ zone: shop, prefixes: ["shop!example.com/p/{id}"] }').join(), /not a valid host name/);
    assert.match(errorsOf('{ zone: shop, prefixes: ["shop.example.com:8080/p/"] }').join(), /without a port/);
    assert.match(errorsOf('{ zone: shop, hosts: ["shop_.example..com"] }').join(), /not a valid host name/);
    assert.match(errorsOf('{ zone: shop, hosts: ["shop.example.com:443"] }').join(), /without a port/);
  });

  it('accepts well-formed hosts, IP addresses and ports', () => {
    assert.deepEqual(
      errorsOf(
        '{ zone: shop, files: ["https://shop.example.com:8443/p/{id}", "http://127.0.0.1:8080/x", "https://[::1]:443/p/{id}", "https://shop.example.com/"], prefixes: ["img.shop-1.example.com/p/"], hosts: ["shop.example.com"] }',
      ),
      [],
    );
  });
});

describe('urlencode inside a CDN URL template encodes once (issue 8 part 8)', () => {
  it('gives the same URL with and without the filter', () => {
    const rules = compileRules(
      `version: 1
rules:
  - name: r
    table: public.p
    invalidate:
      patterns: ["search:{name|urlencode}:*"]
      cdn:
        cloudflare: { zone: shop, files: ["https://shop.example.com/p/{name|urlencode}", "https://shop.example.com/q/{name}", "https://shop.example.com/l/{name|urlencode|lower}"] }
        cloudfront: { distribution: web, paths: ["/p/{name|urlencode}"] }
`,
      'u.yaml',
    );
    const e: ChangeEvent = { op: 'insert', schema: 'public', table: 'p', after: { name: 'A b/c' }, commitTimeMs: 1, position: '1' };
    const [m] = rules.evaluate(e);
    // Before the fix: https://shop.example.com/p/A%2520b%252Fc (encoded twice).
    assert.deepEqual(
      m.cdn.map((c) => c.value),
      ['https://shop.example.com/p/A%20b%2Fc', 'https://shop.example.com/q/A%20b%2Fc', 'https://shop.example.com/l/a%20b%2Fc', '/p/A%20b%2Fc'],
    );
    // Outside URLs the filter still applies.
    assert.deepEqual(m.patterns, ['search:A%20b%2Fc:*']);
  });
});
