import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@cdc/testing';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

/**
 * Promise 7 end to end: a row value full of glob characters, interpolated into a pattern
 * rule, deletes only the keys its literal value names — never a wider set.
 */
const RULES = `
version: 1
rules:
  - name: search
    table: public.terms
    invalidate:
      patterns: ["search:{term}:*"]
      keys: ["term:{id}"]
`;

describe('glob characters in row values (e2e)', { timeout: 120_000 }, () => {
  let stack: TestStack;
  let worker: WorkerProcess;

  before(async () => {
    stack = await startStack('glob', RULES, { setupSql: 'CREATE TABLE terms (id int PRIMARY KEY, term text NOT NULL)' });
    worker = new WorkerProcess(stack.workerEnv('glob'), `${stack.dir}/worker.log`);
    await worker.start();
  });

  after(async () => {
    await worker?.terminate();
    await stack?.destroy();
  });

  it('cannot widen a pattern delete', async () => {
    const { pg, r } = stack;
    const innocent = ['search:shoes:page1', 'search:hats:page1', 'search:a:page1', 'search:b]:page1'];
    const literal = ['search:*:page1', 'search:[ab]?:page1', 'search:\\*:x'];
    for (const k of [...innocent, ...literal]) await r.set(k, 'cached');
    await r.set('term:1', 'cached').then(() => r.set('term:2', 'cached')).then(() => r.set('term:3', 'cached'));

    // Values that would match every search key if they were not escaped.
    await pg.query(`INSERT INTO terms VALUES (1, '*'), (2, '[ab]?'), (3, '\\*')`);
    // Keys, tags and patterns are applied side by side: wait for the keys and for each
    // pattern's literal match (one SCAN page deletes a pattern's matches together), then give
    // the batch a moment to finish before checking that nothing else went.
    await waitFor('the three rows to be applied', async () => (await r.exists('term:1', 'term:2', 'term:3', ...literal)) === 0, 30_000, 50);
    await new Promise((res) => setTimeout(res, 300));
    for (const k of innocent) assert.equal(await r.exists(k), 1, `${k} must survive`);
  });
});
