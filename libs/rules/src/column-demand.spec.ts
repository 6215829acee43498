import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ALL_COLUMNS, ChangeEvent, ChangeOp, Row, UNKNOWN } from '@cdc/core';
import { columnDemand } from './column-demand';
import { compileRules } from './load';
import { CompiledRules } from './types';

const rules = compileRules(
  `version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}", "product:slug:{before.slug}", "product:slug:{after.slug|lower}"]
      tags: ["category-{category_id}"]
      channels: ["l1:{region}"]
  - name: shop
    table: "shop.*"
    when:
      changed: [status]
      where: { after.kind: { in: [a, b] } }
      any:
        - { owner: { exists: true } }
        - { before.flag: { eq: true } }
    invalidate:
      patterns: ["order:{id}:*"]
      cdn:
        cloudfront: { distribution: web, paths: ["/o/{slug}"] }
`,
  'demand.yaml',
);

function event(op: ChangeOp, table: string, before: Row | undefined, after: Row | undefined): ChangeEvent {
  const [schema, name] = table.split('.');
  return { op, schema, table: name, commitTimeMs: 1, position: '0/1', keyColumns: ['id'], ...(before ? { before } : {}), ...(after ? { after } : {}) };
}

/** The row as a source decoding only `columns` hands it out: every other column UNKNOWN. */
function pruned(row: Row | undefined, columns: ReadonlySet<string>): Row | undefined {
  if (!row) return undefined;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, columns.has(k) ? v : UNKNOWN]));
}

describe('columnDemand', () => {
  it('lists every column any matching rule reads: templates of every kind, where, any, changed', () => {
    const demand = columnDemand(rules);
    assert.deepEqual([...(demand.columnsOf('public', 'products') ?? [])].sort(), ['category_id', 'id', 'region', 'slug']);
    assert.deepEqual([...(demand.columnsOf('shop', 'orders') ?? [])].sort(), ['flag', 'id', 'kind', 'owner', 'slug', 'status']);
    assert.deepEqual([...(demand.columnsOf('public', 'unrelated') ?? [])], []);
  });

  it('is one object per compiled rules (a reload is a new one); other CompiledRules implementations read every column', () => {
    assert.equal(columnDemand(rules), columnDemand(rules));
    const reloaded = compileRules('version: 1\nrules:\n  - name: p\n    table: public.products\n    invalidate: { keys: ["p:{title}"] }\n', 'r.yaml');
    assert.notEqual(columnDemand(reloaded), columnDemand(rules));
    assert.deepEqual([...(columnDemand(reloaded).columnsOf('public', 'products') ?? [])], ['title']);
    const other = { ...rules } as unknown as CompiledRules;
    assert.equal(columnDemand(other), ALL_COLUMNS);
  });

  it('loses no match: rules give the same result on rows pruned to the demand as on full rows', () => {
    const demand = columnDemand(rules);
    const full = { id: 7, slug: 'Slug', title: 'T', category_id: 3, region: 'eu', status: 'new', kind: 'a', owner: 'o', flag: true, extra: 'x' };
    const changed = { ...full, status: 'paid', slug: 'Other', owner: null, kind: 'b' };
    const events = [
      event('insert', 'public.products', undefined, full),
      event('update', 'public.products', full, changed),
      event('delete', 'public.products', full, undefined),
      event('update', 'shop.orders', full, changed),
      event('update', 'shop.orders', full, { ...full, title: 'only a column no rule reads' }),
      event('update', 'shop.orders', full, { ...changed, kind: 'z' }),
      event('delete', 'shop.orders', { ...full, owner: UNKNOWN }, undefined),
    ];
    for (const e of events) {
      const columns = demand.columnsOf(e.schema, e.table) ?? new Set<string>();
      const narrowed: ChangeEvent = { ...e, ...(e.before ? { before: pruned(e.before, columns) } : {}), ...(e.after ? { after: pruned(e.after, columns) } : {}) };
      assert.deepEqual(rules.evaluate(narrowed), rules.evaluate(e), `${e.op} ${e.table}`);
    }
    assert.ok(rules.evaluate(events[3]).length > 0, 'the fixture exercises a firing shop rule');
  });
});
