import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BadEventError, UNKNOWN } from '@cdc/core';
import { parseEventJson } from './event-json';
import { explain } from './explain';
import { compileRules } from './load';

const rules = compileRules(
  `version: 1
rules:
  - name: other-table
    table: public.categories
    invalidate: { keys: ["c:{id}"] }
  - name: inserts-only
    table: public.products
    on: insert
    invalidate: { keys: ["i:{id}"] }
  - name: on-price
    table: public.products
    when: { changed: [price] }
    invalidate: { keys: ["price:{id}"] }
  - name: published
    table: public.products
    when: { where: { after.status: { eq: published } } }
    invalidate: { keys: ["pub:{id}"] }
  - name: page
    table: public.products
    invalidate: { keys: ["product:{id}", "desc:{description}"] }
`,
  'explain.yaml',
);

describe('explain', () => {
  it('says which rules matched and why each other rule was skipped', () => {
    const event = parseEventJson({
      op: 'update',
      table: 'public.products',
      before: { id: 1, price: 5, status: 'draft' },
      after: { id: 1, price: 5, status: 'draft' },
      unknown: ['description'],
    });
    const result = explain(rules, event);
    assert.deepEqual(result.event, { op: 'update', table: 'public.products' });
    assert.deepEqual(
      result.rules.map((r) => [r.rule, r.matched, r.skipped ?? null, r.detail ?? null]),
      [
        ['other-table', false, 'table', 'public.products is not one of public.categories'],
        ['inserts-only', false, 'op', 'fires on insert, not update'],
        ['on-price', false, 'changed', 'none of price changed'],
        ['published', false, 'where', 'after.status eq "published" does not hold (value "draft")'],
        ['page', true, null, null],
      ],
    );
    const page = result.rules[4].match!;
    assert.deepEqual(page.keys, ['product:1']);
    assert.deepEqual(page.missing, [{ rule: 'page', template: 'desc:{description}', column: 'description', reason: 'unknown' }]);
    assert.deepEqual(result.matches, rules.evaluate(event));
  });

  it('says why no item of when.any held, item by item', () => {
    const anyRules = compileRules(
      'version: 1\nrules:\n  - name: was-or-is\n    table: public.products\n    when: { any: [{ before.status: { eq: published } }, { after.status: { eq: published } }] }\n    invalidate: { keys: ["p:{id}"] }\n',
      'any.yaml',
    );
    const draft = parseEventJson({ op: 'insert', table: 'public.products', after: { id: 1, status: 'draft' } });
    const [r] = explain(anyRules, draft).rules;
    assert.deepEqual([r.matched, r.skipped, r.detail], [
      false,
      'any',
      'no item of when.any holds: before.status eq "published": this event has no such row side; after.status eq "published" does not hold (value "draft")',
    ]);
    const published = parseEventJson({ op: 'insert', table: 'public.products', after: { id: 1, status: 'published' } });
    assert.equal(explain(anyRules, published).rules[0].matched, true);
  });

  it('explains an explicit message', () => {
    const event = parseEventJson({ op: 'message', explicit: { keys: ['k1'] } });
    const result = explain(rules, event);
    assert.deepEqual(result.rules.map((r) => [r.rule, r.matched]), [['explicit', true]]);
    assert.deepEqual(result.matches[0].keys, ['k1']);
    assert.deepEqual(result.matches[0].tags, []);
  });
});

describe('parseEventJson', () => {
  it('builds a ChangeEvent, marking unknown columns per side', () => {
    const e = parseEventJson({
      op: 'u',
      schema: 'shop',
      table: 'orders',
      before: { id: 1, a: 1 },
      after: { id: 1, a: 2 },
      unknown: ['before.b', 'c'],
      keyColumns: ['id'],
      commitTime: '2024-05-01T10:00:00.000Z',
    });
    assert.equal(e.op, 'update');
    assert.equal(e.schema, 'shop');
    assert.equal(e.table, 'orders');
    assert.equal(e.before!.b, UNKNOWN);
    assert.equal(e.before!.c, UNKNOWN);
    assert.equal(e.after!.c, UNKNOWN);
    assert.ok(!('b' in e.after!));
    assert.deepEqual(e.keyColumns, ['id']);
    assert.equal(e.commitTimeMs, Date.parse('2024-05-01T10:00:00.000Z'));
  });

  it('throws a clear error naming the bad field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ op: 'upsert', table: 'public.a', after: {} }, /event\.op: unknown op 'upsert'/],
      [{ op: 'insert', table: 'products', after: {} }, /event\.table: 'products' must be schema\.table/],
      [{ op: 'insert', table: 'public.a' }, /event\.after: required for insert/],
      [{ op: 'insert', table: 'public.a', after: [] }, /event\.after: /],
      [{ op: 'delete', table: 'public.a' }, /event\.before: required for delete/],
      [{ op: 'truncate', table: 'public.a', before: { id: 1 } }, /event\.before: truncate carries no rows/],
      [{ op: 'message' }, /event\.explicit: required for a message event/],
      [{ op: 'message', explicit: { keys: [1] } }, /event\.explicit\.keys\.0: /],
      [{ op: 'insert', table: 'public.a', after: {}, colour: 1 }, /event: unknown key\(s\) 'colour'; allowed: op, table, schema/],
      [{ op: 'insert', table: 'public.a', after: {}, commitTime: 'yesterday' }, /event\.commitTime: 'yesterday' is not an ISO timestamp/],
      [{ op: 'insert', table: 'public.a', after: {}, unknown: ['middle.x'] }, /event\.unknown\.0: unknown side 'middle'/],
      ['not an object', /invalid event: event: /],
    ];
    for (const [json, message] of cases) {
      assert.throws(() => parseEventJson(json), (err: unknown) => err instanceof BadEventError && message.test(err.message), JSON.stringify(json));
    }
  });
});
