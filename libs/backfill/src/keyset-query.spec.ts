import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '@cdc/core';
import { countQuery, pageQuery } from './keyset-query';
import { parseTableName } from './table-name';

describe('pageQuery', () => {
  const t = { schema: 'public', table: 'items' };

  it('first page: key order and limit, no cursor condition', () => {
    assert.deepEqual(pageQuery(t, ['id'], { limit: 500 }), {
      text: 'SELECT * FROM "public"."items" ORDER BY "id" LIMIT $1',
      values: [500],
    });
  });

  it('composite keys compare as a row value after the cursor', () => {
    const q = pageQuery({ schema: 'Shop', table: 'order lines' }, ['order_id', 'Line'], { after: ['7', 3], limit: 100 });
    assert.equal(q.text, 'SELECT * FROM "Shop"."order lines" WHERE ("order_id", "Line") > ($1, $2) ORDER BY "order_id", "Line" LIMIT $3');
    assert.deepEqual(q.values, ['7', 3, 100]);
  });

  it('wraps the operator filter so a trailing comment or OR cannot swallow the key condition', () => {
    const q = pageQuery(t, ['id'], { where: 'a = 1 OR b = 2 -- note', after: [10], limit: 5 });
    assert.equal(q.text, 'SELECT * FROM "public"."items" WHERE (\na = 1 OR b = 2 -- note\n) AND ("id") > ($1) ORDER BY "id" LIMIT $2');
    assert.equal(countQuery(t, 'x > 1'), 'SELECT count(*) AS n FROM "public"."items" WHERE (\nx > 1\n)');
    assert.equal(countQuery(t, '  '), 'SELECT count(*) AS n FROM "public"."items"');
  });

  it('refuses a cursor that does not fit the key', () => {
    assert.throws(() => pageQuery(t, ['a', 'b'], { after: [1], limit: 1 }), /1 values for 2 key columns/);
  });
});

describe('parseTableName', () => {
  it('reads schema.table, table alone, and quoted names with dots', () => {
    assert.deepEqual(parseTableName('shop.products'), { schema: 'shop', table: 'products' });
    assert.deepEqual(parseTableName('products'), { schema: 'public', table: 'products' });
    assert.deepEqual(parseTableName('"my.schema"."Odd ""t"""'), { schema: 'my.schema', table: 'Odd "t"' });
  });

  it('rejects what is not a table name', () => {
    for (const bad of ['', 'a.b.c', 'a.', '.b', '"open']) {
      assert.throws(() => parseTableName(bad), ConfigError, bad);
    }
  });
});
