import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent } from '@cdc/core';
import { compileRules } from './load';
import { RulePlan } from './rule-plan';
import { TablePattern } from './table-pattern';

const rules = compileRules(
  `version: 1
rules:
  - { name: all-public, table: "public.*", on: [truncate], invalidate: { patterns: ["public:*"] } }
  - { name: products-anywhere, table: "*.products", invalidate: { keys: ["p:{id}"] } }
  - { name: exact, tables: [public.products, shop.orders], on: [insert, update], invalidate: { keys: ["x:{id}"] } }
  - { name: numbered, table: "archive.log_20??", invalidate: { tags: [archive] } }
`,
  'tables.yaml',
) as RulePlan;

const ev = (schema: string, table: string, op: ChangeEvent['op'] = 'insert'): ChangeEvent => ({
  op,
  schema,
  table,
  after: { id: 1 },
  commitTimeMs: 1,
  position: '1',
});
const names = (e: ChangeEvent) => rules.evaluate(e).map((m) => m.rule);

describe('table selection', () => {
  it('matches exact names and globs, in file order, per op', () => {
    assert.deepEqual(names(ev('public', 'products')), ['products-anywhere', 'exact']);
    assert.deepEqual(names(ev('public', 'products', 'truncate')), ['all-public', 'products-anywhere']);
    assert.deepEqual(names(ev('shop', 'products')), ['products-anywhere']);
    assert.deepEqual(names(ev('shop', 'orders')), ['exact']);
    assert.deepEqual(names(ev('archive', 'log_2024')), ['numbered']);
    assert.deepEqual(names(ev('archive', 'log_202')), []);
    assert.deepEqual(names(ev('public', 'anything', 'truncate')), ['all-public']);
    assert.deepEqual(names(ev('Public', 'products')), ['products-anywhere'], 'schema match is case-sensitive');
  });

  it('answers appliesTo and lists the table patterns for publications', () => {
    assert.equal(rules.appliesTo('public', 'whatever'), true);
    assert.equal(rules.appliesTo('shop', 'orders'), true);
    assert.equal(rules.appliesTo('shop', 'customers'), false);
    assert.deepEqual(rules.tablePatterns(), ['public.*', '*.products', 'public.products', 'shop.orders', 'archive.log_20??']);
  });

  it('memoises the resolved rule list per concrete table', () => {
    const plan = compileRules(rulesTextFor('public.*'), 'memo.yaml') as RulePlan;
    assert.equal(plan.index.resolvedTables, 0);
    const first = plan.index.lookup('public', 'a', 'insert');
    assert.equal(plan.index.resolvedTables, 1);
    assert.equal(plan.index.lookup('public', 'a', 'insert'), first, 'same frozen list on the second lookup');
    assert.ok(Object.isFrozen(first));
    plan.index.lookup('public', 'a', 'update');
    plan.evaluate(ev('public', 'a'));
    assert.equal(plan.index.resolvedTables, 1, 'other ops of a known table need no new resolution');
    plan.index.lookup('public', 'b', 'insert');
    assert.equal(plan.index.resolvedTables, 2);
  });

  it('parses table patterns and rejects ones without a schema', () => {
    const p = TablePattern.parse('pub?ic.*_v2');
    assert.ok(p instanceof TablePattern);
    assert.equal(p.matches('public', 'orders_v2'), true);
    assert.equal(p.matches('public', 'orders_v3'), false);
    assert.equal(p.matches('public', 'x.y_v2'), true);
    assert.ok('error' in (TablePattern.parse('products') as object));
    assert.ok('error' in (TablePattern.parse('a.b.c') as object));
    const dotted = TablePattern.parse('public.a+b');
    assert.ok(dotted instanceof TablePattern && dotted.isExact && dotted.matches('public', 'a+b'));
  });
});

function rulesTextFor(table: string): string {
  return `version: 1\nrules:\n  - { name: r, table: "${table}", invalidate: { keys: ["k:{id}"] } }\n`;
}
