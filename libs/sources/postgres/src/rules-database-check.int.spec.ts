import { formatProblem } from '@cdc/core';
import { compileRules } from '@cdc/rules';
import { PostgresServer } from '@cdc/testing';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { checkRulesAgainstDatabase } from './rules-database-check';

const RULES = `version: 1
rules:
  - name: product-page
    table: public.products
    on: [insert, update, delete]
    when:
      changed: [title, price]
    invalidate:
      keys: ["product:{id}", "product:slug:{before.slug}", "product:{after.slug}"]
      tags: ["cat-{category_id}"]
  - name: orders
    table: public.orders
    on: [update, delete]
    invalidate:
      keys: ["order:{before.customer_id}", "order:{id}"]
  - name: ghost
    table: public.nope
    invalidate:
      keys: ["x:{id}"]
  - name: prices
    table: public.p*
    on: [delete]
    invalidate:
      keys: ["price:{sku}"]
  - name: unpublished
    table: public.audit
    on: [insert]
    invalidate:
      keys: ["audit:{id}"]
`;

/** `validate` against a live database: tables, columns, replica identity, publication. */
describe('checkRulesAgainstDatabase (integration)', { timeout: 60_000 }, () => {
  let pg: PostgresServer;

  before(async () => {
    pg = await PostgresServer.start();
    await pg.query(`
      CREATE TABLE products (id int PRIMARY KEY, slug text, title text, price numeric);
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int);
      ALTER TABLE orders REPLICA IDENTITY FULL;
      CREATE TABLE prices (sku text PRIMARY KEY);
      CREATE TABLE audit (id int PRIMARY KEY);
      CREATE PUBLICATION cdc_invalidator FOR TABLE products, orders, prices;`);
  });

  after(async () => {
    await pg?.destroy();
  });

  it('reports missing tables and columns, unlogged old values and unpublished tables, with positions', async () => {
    const problems = await checkRulesAgainstDatabase(compileRules(RULES, 'rules.yaml'), pg.url);
    assert.deepEqual(problems.map(formatProblem), [
      `rules.yaml:3:5: warning: rule 'product-page': changed: [title] reads the old value of "title" but public.products has REPLICA IDENTITY DEFAULT: old value not logged; set REPLICA IDENTITY FULL on public.products`,
      `rules.yaml:3:5: warning: rule 'product-page': changed: [price] reads the old value of "price" but public.products has REPLICA IDENTITY DEFAULT: old value not logged; set REPLICA IDENTITY FULL on public.products`,
      `rules.yaml:9:44: warning: rule 'product-page': product:slug:{before.slug} reads the old value of "slug" but public.products has REPLICA IDENTITY DEFAULT: old value not logged; set REPLICA IDENTITY FULL on public.products`,
      `rules.yaml:10:19: error: rule 'product-page': column "category_id" does not exist in public.products (cat-{category_id})`,
      `rules.yaml:16:5: error: rule 'ghost': table public.nope does not exist`,
      // A glob matching a table without the column: a warning, not an error.
      `rules.yaml:24:21: warning: rule 'prices': column "sku" does not exist in public.products (matched by public.p*) (price:{sku})`,
      `rules.yaml:25:5: warning: rule 'unpublished': public.audit is not in publication "cdc_invalidator": its changes are not streamed`,
    ]);
  });

  it('has nothing left to say about the tables once they are fixed', async () => {
    await pg.query(`ALTER TABLE products ADD COLUMN category_id int; ALTER TABLE products REPLICA IDENTITY FULL; CREATE TABLE nope (id int PRIMARY KEY);
                    ALTER PUBLICATION cdc_invalidator ADD TABLE nope, audit`);
    const problems = await checkRulesAgainstDatabase(compileRules(RULES, 'rules.yaml'), pg.url);
    assert.deepEqual(problems.map(formatProblem), [
      `rules.yaml:24:21: warning: rule 'prices': column "sku" does not exist in public.products (matched by public.p*) (price:{sku})`,
    ]);
  });

  it('warns when the publication does not exist yet', async () => {
    const problems = await checkRulesAgainstDatabase(compileRules(RULES, 'rules.yaml'), pg.url, { publicationName: 'other' });
    assert.match(formatProblem(problems[0]), /^rules\.yaml:1:1: warning: publication "other" does not exist yet/);
    assert.ok(!problems.some((p) => /is not in publication/.test(p.message)), 'no per-table noise when the publication is missing');
  });
});
