import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent, ChangeOp, Row, UNKNOWN } from '@cdc/core';
import { compileRules } from './load';

function event(op: ChangeOp, rows: { before?: Row; after?: Row; table?: string; keyColumns?: string[] } = {}): ChangeEvent {
  const [schema, table] = (rows.table ?? 'public.products').split('.');
  return {
    op,
    schema,
    table,
    commitTimeMs: 1,
    position: '0/1',
    ...(rows.before ? { before: rows.before } : {}),
    ...(rows.after ? { after: rows.after } : {}),
    ...(rows.keyColumns ? { keyColumns: rows.keyColumns } : {}),
  };
}

const products = compileRules(
  `version: 1
defaults:
  channels: [l1-default]
rules:
  - name: product
    table: public.products
    invalidate:
      keys: ["product:{id}", "product:slug:{before.slug}", "product:slug:{after.slug|lower}", "static-key"]
      tags: ["category-{category_id}"]
      patterns: ["search:products:*"]
`,
  'products.yaml',
);

describe('evaluate: sides', () => {
  it('insert has no before: before templates yield nothing and are not missing', () => {
    const [m] = products.evaluate(event('insert', { after: { id: 1, slug: 'Red-Shoe', category_id: 3 } }));
    assert.deepEqual(m.keys, ['product:1', 'product:slug:red-shoe', 'static-key']);
    assert.deepEqual(m.tags, ['category-3']);
    assert.deepEqual(m.patterns, ['search:products:*']);
    assert.deepEqual(m.channels, ['l1-default']);
    assert.deepEqual(m.missing, []);
    assert.deepEqual(m.cdn, []);
  });

  it('update names both sides; {col} is the new row', () => {
    const [m] = products.evaluate(event('update', { before: { id: 1, slug: 'old', category_id: 3 }, after: { id: 1, slug: 'New', category_id: 4 } }));
    assert.deepEqual(m.keys, ['product:1', 'product:slug:old', 'product:slug:new', 'static-key']);
    assert.deepEqual(m.tags, ['category-4']);
  });

  it('delete uses the old row for {col}; after templates yield nothing silently', () => {
    const [m] = products.evaluate(event('delete', { before: { id: 9, slug: 'gone', category_id: 5 } }));
    assert.deepEqual(m.keys, ['product:9', 'product:slug:gone', 'static-key']);
    assert.deepEqual(m.tags, ['category-5']);
    assert.deepEqual(m.missing, []);
  });

  it('snapshot has only after', () => {
    const [m] = products.evaluate(event('snapshot', { after: { id: 2, slug: 'S', category_id: 1 } }));
    assert.deepEqual(m.keys, ['product:2', 'product:slug:s', 'static-key']);
  });

  it('truncate emits only static templates', () => {
    const [m] = products.evaluate(event('truncate'));
    assert.deepEqual(m.keys, ['static-key']);
    assert.deepEqual(m.tags, []);
    assert.deepEqual(m.patterns, ['search:products:*']);
    assert.deepEqual(m.missing, []);
  });

  it('reports an UNKNOWN value (unchanged TOAST / old tuple without the column) as missing', () => {
    const [m] = products.evaluate(
      event('update', { before: { id: 1, slug: UNKNOWN, category_id: 3 }, after: { id: 1, slug: 'x', category_id: UNKNOWN } }),
    );
    assert.deepEqual(m.keys, ['product:1', 'product:slug:x', 'static-key']);
    assert.deepEqual(m.tags, []);
    assert.deepEqual(m.missing, [
      { rule: 'product', template: 'product:slug:{before.slug}', column: 'slug', reason: 'unknown' },
      { rule: 'product', template: 'category-{category_id}', column: 'category_id', reason: 'unknown' },
    ]);
  });

  it('treats a column absent from an existing row as unknown', () => {
    const [m] = products.evaluate(event('delete', { before: { id: 4 } }));
    assert.deepEqual(m.keys, ['product:4', 'static-key']);
    assert.deepEqual(
      m.missing.map((x) => [x.column, x.reason]),
      [
        ['slug', 'unknown'],
        ['category_id', 'unknown'],
      ],
    );
  });

  it('an update whose old row was not logged reports before.* as absent-side, except key columns', () => {
    const [m] = products.evaluate(event('update', { after: { id: 1, slug: 'b', category_id: 2 }, keyColumns: ['id'] }));
    assert.deepEqual(m.keys, ['product:1', 'product:slug:b', 'static-key']);
    assert.deepEqual(m.missing, [{ rule: 'product', template: 'product:slug:{before.slug}', column: 'slug', reason: 'absent-side' }]);

    const keyed = compileRules('version: 1\nrules:\n  - { name: k, table: public.products, invalidate: { keys: ["old:{before.id}"] } }\n', 'k.yaml');
    assert.deepEqual(keyed.evaluate(event('update', { after: { id: 7 }, keyColumns: ['id'] }))[0].keys, ['old:7']);
  });

  it('SQL NULL yields nothing and is not counted as missing', () => {
    const [m] = products.evaluate(event('insert', { after: { id: 1, slug: null, category_id: null } }));
    assert.deepEqual(m.keys, ['product:1', 'static-key']);
    assert.deepEqual(m.tags, []);
    assert.deepEqual(m.missing, []);
  });

  it('does not repeat a key within one match', () => {
    const [m] = products.evaluate(event('update', { before: { id: 1, slug: 'same', category_id: 3 }, after: { id: 1, slug: 'same', category_id: 3 } }));
    assert.deepEqual(m.keys, ['product:1', 'product:slug:same', 'static-key']);
  });

  it('returns no matches for a table no rule names', () => {
    assert.deepEqual(products.evaluate(event('insert', { table: 'public.other', after: { id: 1 } })), []);
  });
});

describe('evaluate: ops, channels, explicit messages', () => {
  const rules = compileRules(
    `version: 1
rules:
  - name: on-delete
    table: public.products
    on: delete
    invalidate: { keys: ["del:{id}"], channels: ["l1:{tenant}"] }
  - name: default-ops
    table: public.products
    invalidate: { cdn: { cloudfront: { distribution: web, paths: ["/p/{id}"] } } }
`,
    'ops.yaml',
  );

  it('fires a rule only on its ops; default is all but message', () => {
    assert.deepEqual(
      rules.evaluate(event('insert', { after: { id: 1 } })).map((m) => m.rule),
      ['default-ops'],
    );
    assert.deepEqual(
      rules.evaluate(event('delete', { before: { id: 1, tenant: 'acme' } })).map((m) => m.rule),
      ['on-delete', 'default-ops'],
    );
  });

  it('renders rule channels, falling back to the defaults when they render to nothing', () => {
    const [m] = rules.evaluate(event('delete', { before: { id: 1, tenant: 'acme' } }));
    assert.deepEqual(m.channels, ['l1:acme']);
    const [n] = rules.evaluate(event('delete', { before: { id: 1, tenant: null } }));
    assert.deepEqual(n.channels, ['cache-invalidation']);
  });

  it('a CDN-only match names no L1 channel', () => {
    const [, m] = rules.evaluate(event('delete', { before: { id: 5, tenant: 'a' } }));
    assert.deepEqual(m.channels, []);
    assert.deepEqual(m.cdn, [{ provider: 'cloudfront', target: 'web', kind: 'paths', value: '/p/5' }]);
  });

  it('a message event is one explicit match on the default channels', () => {
    const explicit = { keys: ['a', 'b'], tags: ['t'], patterns: ['p:*'] };
    assert.deepEqual(rules.evaluate({ op: 'message', schema: '', table: '', commitTimeMs: 1, position: 'x', explicit }), [
      { rule: 'explicit', keys: ['a', 'b'], tags: ['t'], patterns: ['p:*'], channels: ['cache-invalidation'], cdn: [], missing: [] },
    ]);
  });
});

describe('evaluate: when.changed', () => {
  const rules = compileRules(
    `version: 1
rules:
  - name: price
    table: public.products
    when: { changed: [price, title] }
    invalidate: { keys: ["p:{id}"] }
`,
    'changed.yaml',
  );
  const fires = (e: ChangeEvent) => rules.evaluate(e).length === 1;

  it('fires on update only when a listed column changed', () => {
    assert.equal(fires(event('update', { before: { id: 1, price: '10.00', title: 'a', stock: 1 }, after: { id: 1, price: '10.00', title: 'a', stock: 2 } })), false);
    assert.equal(fires(event('update', { before: { id: 1, price: '10.00', title: 'a' }, after: { id: 1, price: '11.00', title: 'a' } })), true);
  });

  it('compares structured values deeply', () => {
    assert.equal(fires(event('update', { before: { id: 1, price: 1, title: { en: 'a' } }, after: { id: 1, price: 1, title: { en: 'a' } } })), false);
    assert.equal(fires(event('update', { before: { id: 1, price: 1, title: { en: 'a' } }, after: { id: 1, price: 1, title: { en: 'b' } } })), true);
  });

  it('counts UNKNOWN on either side, or an unlogged old row, as maybe changed', () => {
    assert.equal(fires(event('update', { before: { id: 1, price: 1, title: UNKNOWN }, after: { id: 1, price: 1, title: 'a' } })), true);
    assert.equal(fires(event('update', { before: { id: 1, price: 1, title: 'a' }, after: { id: 1, price: 1, title: UNKNOWN } })), true);
    assert.equal(fires(event('update', { after: { id: 1, price: 1, title: 'a' } })), true);
  });

  it('does not apply to insert, delete or truncate', () => {
    assert.equal(fires(event('insert', { after: { id: 1 } })), true);
    assert.equal(fires(event('delete', { before: { id: 1 } })), true);
    assert.equal(fires(event('truncate')), true);
  });
});

describe('evaluate: where', () => {
  const rules = compileRules(
    `version: 1
rules:
  - name: w
    table: public.products
    when:
      where:
        after.status: { in: [published, featured] }
        price: { gte: 10, lt: 100 }
        before.deleted_at: { is_null: true }
        after.sku: { exists: true, ne: "tmp" }
    invalidate: { keys: ["p:{id}"] }
`,
    'where.yaml',
  );
  const base = { id: 1, status: 'published', price: '12.50', sku: 'A1', deleted_at: null };
  const fires = (before: Row | undefined, after: Row) => rules.evaluate(event('update', { ...(before ? { before } : {}), after })).length === 1;

  it('fires when every condition holds', () => {
    assert.equal(fires(base, base), true);
  });

  it('stops on each failing operator', () => {
    assert.equal(fires(base, { ...base, status: 'draft' }), false, 'in');
    assert.equal(fires(base, { ...base, price: '9.99' }), false, 'gte against a numeric string');
    assert.equal(fires(base, { ...base, price: 100 }), false, 'lt');
    assert.equal(fires({ ...base, deleted_at: '2024-01-01T00:00:00Z' }, base), false, 'is_null');
    assert.equal(fires(base, { ...base, sku: 'tmp' }), false, 'ne');
    const { sku: _sku, ...noSku } = base;
    assert.equal(fires(base, noSku), false, 'exists');
  });

  it('treats an undecidable value (UNKNOWN, unlogged old row) as holding', () => {
    assert.equal(fires(base, { ...base, status: UNKNOWN }), true);
    assert.equal(fires(undefined, base), true);
  });

  it('a side that does not exist holds nothing', () => {
    const insertOnly = compileRules(
      'version: 1\nrules:\n  - { name: i, table: public.products, when: { where: { before.status: { eq: x } } }, invalidate: { keys: [k] } }\n',
      'i.yaml',
    );
    assert.deepEqual(insertOnly.evaluate(event('insert', { after: { status: 'x' } })), []);
  });

  it('eq matches numbers, numeric strings and booleans by value', () => {
    const eq = compileRules(
      'version: 1\nrules:\n  - { name: e, table: public.products, when: { where: { id: { eq: 5 }, active: { eq: true } } }, invalidate: { keys: [k] } }\n',
      'e.yaml',
    );
    assert.equal(eq.evaluate(event('insert', { after: { id: '5', active: true } })).length, 1);
    assert.equal(eq.evaluate(event('insert', { after: { id: 5n, active: true } })).length, 1);
    assert.equal(eq.evaluate(event('insert', { after: { id: 6, active: true } })).length, 0);
    assert.equal(eq.evaluate(event('insert', { after: { id: 5, active: false } })).length, 0);
  });

  it('where does not apply to truncate (no rows to judge)', () => {
    assert.equal(rules.evaluate(event('truncate')).length, 1);
  });
});

describe('evaluate: a rule that fails on one event', () => {
  const twoRules = compileRules(
    `version: 1
rules:
  - name: by-id
    table: public.docs
    invalidate:
      keys: ["doc:{id}"]
  - name: by-body
    table: public.docs
    invalidate:
      keys: ["doc:body:{body}"]
`,
    'two.yaml',
  );
  // A jsonb value nested 6,000 deep: rendering it as JSON overflows the stack.
  let deep: unknown = 1;
  for (let i = 0; i < 6000; i++) deep = { a: deep };
  const e = event('update', { table: 'public.docs', before: { id: 1, body: deep }, after: { id: 1, body: deep } });

  it('loses only that rule: the other rules still match, the failure is reported with the rule name', () => {
    const failures: Array<{ rule: string; message: string }> = [];
    const matches = twoRules.evaluate(e, (rule, err) => failures.push({ rule, message: (err as Error).message }));
    assert.deepEqual(matches.map((m) => [m.rule, m.keys]), [['by-id', ['doc:1']]]);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].rule, 'by-body');
    assert.match(failures[0].message, /call stack/);
  });

  it('without a handler the error propagates (as before)', () => {
    assert.throws(() => twoRules.evaluate(e), RangeError);
  });

  it('a rule that threw after a miss leaves no miss behind for the next event', () => {
    const rules = compileRules(
      `version: 1
rules:
  - name: doc
    table: public.docs
    invalidate:
      keys: ["doc:title:{title}", "doc:body:{body}"]
      channels: ["l1:docs"]
`,
      'doc.yaml',
    );
    const thrown = event('update', { table: 'public.docs', before: { id: 1, title: UNKNOWN, body: deep }, after: { id: 1, title: UNKNOWN, body: deep } });
    assert.throws(() => rules.evaluate(thrown), RangeError);
    const [m] = rules.evaluate(event('update', { table: 'public.docs', before: { id: 2, title: 't', body: 'b' }, after: { id: 2, title: 't', body: 'b' } }));
    assert.deepEqual(m.keys, ['doc:title:t', 'doc:body:b']);
    assert.deepEqual(m.missing, []);
    assert.deepEqual(m.channels, ['l1:docs']);
  });
});

describe('evaluate: constant lists', () => {
  const rules = compileRules(
    `version: 1
rules:
  - name: home
    table: public.products
    invalidate:
      keys: ["home", "home", "menu"]
      tags: ["products"]
      channels: ["l1:a", "l1:b", "l1:a"]
`,
    'constant.yaml',
  );

  it('renders once, repeats dropped, and every match reads the same read-only values', () => {
    const [a] = rules.evaluate(event('insert', { after: { id: 1 } }));
    const [b] = rules.evaluate(event('delete', { before: { id: 2 } }));
    assert.deepEqual(a.keys, ['home', 'menu']);
    assert.deepEqual(a.tags, ['products']);
    assert.deepEqual(a.channels, ['l1:a', 'l1:b']);
    assert.equal(a.keys, b.keys);
    assert.ok(Object.isFrozen(a.keys) && Object.isFrozen(a.channels));
  });
});

describe('evaluate: when.any', () => {
  const rules = compileRules(
    `version: 1
rules:
  - name: was-or-is-published
    table: public.products
    when:
      any:
        - before.status: { in: [published] }
        - after.status: { in: [published] }
          after.visible: { eq: true }
    invalidate: { keys: ["home:{id}"] }
`,
    'any.yaml',
  );
  const fires = (e: ChangeEvent) => rules.evaluate(e).length === 1;

  it('fires when one item holds, whichever it is (OR), and each item is an AND of its entries', () => {
    assert.equal(fires(event('update', { before: { id: 1, status: 'published' }, after: { id: 1, status: 'draft', visible: true } })), true, 'unpublished');
    assert.equal(fires(event('update', { before: { id: 1, status: 'draft' }, after: { id: 1, status: 'published', visible: true } })), true, 'published');
    assert.equal(fires(event('update', { before: { id: 1, status: 'draft' }, after: { id: 1, status: 'published', visible: false } })), false, 'second item needs both entries');
    assert.equal(fires(event('update', { before: { id: 1, status: 'draft' }, after: { id: 1, status: 'draft', visible: true } })), false, 'neither');
  });

  it('a side the op does not have holds nothing, so the other item decides', () => {
    assert.equal(fires(event('insert', { after: { id: 1, status: 'published', visible: true } })), true);
    assert.equal(fires(event('insert', { after: { id: 1, status: 'draft', visible: true } })), false);
    assert.equal(fires(event('delete', { before: { id: 1, status: 'published' } })), true);
    assert.equal(fires(event('delete', { before: { id: 1, status: 'draft' } })), false);
  });

  it('an undecidable value (UNKNOWN, unlogged old row) holds, so the rule fires', () => {
    assert.equal(fires(event('update', { before: { id: 1, status: UNKNOWN }, after: { id: 1, status: 'draft', visible: true } })), true);
    assert.equal(fires(event('update', { after: { id: 1, status: 'draft', visible: true } })), true, 'old row not logged');
  });

  it('holds together with where and changed (all of them must hold)', () => {
    const both = compileRules(
      `version: 1
rules:
  - name: both
    table: public.products
    when:
      changed: [price]
      where: { after.kind: { eq: shoe } }
      any: [{ before.status: { eq: published } }, { after.status: { eq: published } }]
    invalidate: { keys: ["k:{id}"] }
`,
      'both.yaml',
    );
    const row = { id: 1, kind: 'shoe', status: 'published', price: 1 };
    const n = (before: Row, after: Row) => both.evaluate(event('update', { before, after })).length;
    assert.equal(n(row, { ...row, price: 2 }), 1);
    assert.equal(n(row, { ...row, price: 2, kind: 'hat' }), 0, 'where fails');
    assert.equal(n({ ...row, status: 'draft' }, { ...row, status: 'draft', price: 2 }), 0, 'any fails');
    assert.equal(n(row, row), 0, 'changed fails');
  });

  it('records the columns of its keys for the replica-identity check', () => {
    assert.deepEqual(
      rules.rules[0].whereColumns.map((c) => `${c.side}.${c.column}@${c.location.line}:${c.location.column}`),
      ['before.status@7:11', 'after.status@8:11', 'after.visible@9:11'],
    );
  });

  it('does not apply to truncate (no rows to judge)', () => {
    assert.equal(fires(event('truncate')), true);
  });
});
