import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { listDeadLetters } from '@cdc/sink-redis';
import { waitFor } from '@cdc/testing';
import { TestStack, startStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

/**
 * Issue 8 parts 1 and 2 through the real worker: a row with an empty value and an
 * explicit invalidation asking for `*` delete nothing beyond what a rule names.
 */
const RULES = `
version: 1
rules:
  - name: search
    table: public.terms
    invalidate:
      keys: ["term:{id}"]
      patterns: ["{slug}*", "search:{slug}:*"]
`;

const UNRELATED = ['session:abc', 'search::page1', 'search:shoes:page1', 'user:1', 'cdc:cdn:outbox-like'];

describe('an empty value or an explicit "*" cannot widen a delete (e2e)', { timeout: 120_000 }, () => {
  let stack: TestStack;
  let worker: WorkerProcess;

  before(async () => {
    stack = await startStack('widening', RULES, { setupSql: 'CREATE TABLE terms (id int PRIMARY KEY, slug text NOT NULL)' });
    // PATTERN_MIN_PREFIX=1 keeps `{slug}*` loadable, the template the probe used.
    worker = new WorkerProcess(stack.workerEnv('widening', { PATTERN_MIN_PREFIX: '1' }), `${stack.dir}/worker.log`);
    await worker.start();
  });

  after(async () => {
    await worker?.terminate();
    await stack?.destroy();
  });

  it('a row whose slug is empty deletes its key and no pattern', async () => {
    const { pg, r } = stack;
    for (const k of [...UNRELATED, 'term:1']) await r.set(k, 'cached');
    // Before the fix this rendered `*` and `search::*`: every key in Redis went.
    await pg.query(`INSERT INTO terms VALUES (1, '')`);
    await waitFor('term:1 to be invalidated', async () => (await r.exists('term:1')) === 0, 30_000, 50);
    await waitFor('the skipped templates to be counted', async () => /cdc_rule_missing_values_total\{[^}]*reason="empty"[^}]*\} 2/.test(await worker.metrics()), 10_000, 50);
    for (const k of UNRELATED) assert.equal(await r.exists(k), 1, `${k} must survive`);
  });

  it('an explicit invalidation with patterns is dead-lettered under the default policy; keys still work', async () => {
    const { pg, r } = stack;
    for (const k of [...UNRELATED, 'product:7']) await r.set(k, 'cached');
    await pg.query(`SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"patterns":["*"]}')`);
    await pg.query(`SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"keys":["product:7"]}')`);
    await waitFor('product:7 to be invalidated', async () => (await r.exists('product:7')) === 0, 30_000, 50);
    await waitFor('the refused message to be dead-lettered', async () => (await listDeadLetters(r)).some((l) => /may not carry patterns/.test(l.reason)), 10_000, 50);
    for (const k of UNRELATED) assert.equal(await r.exists(k), 1, `${k} must survive`);
    assert.match(await worker.metrics(), /cdc_explicit_invalidations_refused_total\{source="postgres",refusal="kind-not-allowed"\} 1/);
  });
});
