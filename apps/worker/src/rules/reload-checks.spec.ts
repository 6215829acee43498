import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileRules } from '@cdc/rules';
import { checkAgainstBoot } from './reload-checks';

const FILE = '/etc/cdc-invalidator/rules.yaml';
const text = `version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["p:{id}"]
      cdn:
        cloudflare: { zone: shop, tags: ["p-{id}"] }
  - name: order
    tables: [public.orders, archive.*]
    invalidate:
      keys: ["o:{id}"]
      cdn:
        cloudfront:
          distribution: web
          paths: ["/o/{id}"]
`;
const rules = compileRules(text, FILE);
const configured = { cloudflare: new Set(['shop']), cloudfront: new Set(['web']) };

describe('checkAgainstBoot', () => {
  it('accepts aliases configured at boot and tables the publication covers', () => {
    const r = checkAgainstBoot(rules, text, { cdnAliases: configured, publication: ['public.*', 'archive.*'] });
    assert.deepEqual(r, { errors: [], warnings: [] });
  });

  it('rejects an alias missing from the configuration, at the line and column of the alias', () => {
    const r = checkAgainstBoot(rules, text, { cdnAliases: { cloudflare: new Set(['shop']), cloudfront: new Set(['api']) }, publication: 'all' });
    assert.equal(r.errors.length, 1);
    assert.deepEqual({ line: r.errors[0].line, column: r.errors[0].column, file: r.errors[0].file }, { line: 15, column: 25, file: FILE });
    assert.match(r.errors[0].message, /cloudfront distribution "web" is not configured in CLOUDFRONT_DISTRIBUTIONS \(configured: api\)/);
  });

  it('rejects any CDN target when the outbox was not started at boot', () => {
    const r = checkAgainstBoot(rules, text, {});
    assert.equal(r.errors.length, 2);
    for (const e of r.errors) assert.match(e.message, /restart the worker to enable CDN purges/);
  });

  it('warns, with the rule position, about tables that were not in the publication at boot', () => {
    const r = checkAgainstBoot(rules, text, { cdnAliases: configured, publication: ['public.products'] });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.warnings.map((w) => [w.line, w.column, /table (\S+) was not in the publication/.exec(w.message)?.[1], /restart/.test(w.message)]),
      [
        [9, 5, 'public.orders', true],
        [9, 5, 'archive.*', true],
      ],
    );
  });

  it('does not check tables for a source without a publication (Kafka) or FOR ALL TABLES', () => {
    assert.deepEqual(checkAgainstBoot(rules, text, { cdnAliases: configured }).warnings, []);
    assert.deepEqual(checkAgainstBoot(rules, text, { cdnAliases: configured, publication: 'all' }).warnings, []);
  });
});
