import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { PostgresServer, RedisServer, waitFor } from '@cdc/testing';
import { WorkerProcess, cliPath } from '../support/worker-process';

const RULES = `version: 1
rules:
  - name: doc
    table: public.docs
    invalidate:
      keys: ["doc:{id}"]
      tags: ["doc-{kind}"]
  - name: doc-body
    table: public.docs
    invalidate:
      keys: ["doc:body:{body}"]
`;

/**
 * Dead letters through the real worker and the real CLI: a rule that overflows the stack on a
 * 6,000-deep jsonb loses only its own output, a tag set of the wrong type is dead-lettered,
 * `dead-letters list` shows both, `redrive` re-applies the one that can be applied after the fix.
 */
describe('dead-letters (worker + CLI)', { timeout: 150_000 }, () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let r: Redis;
  let dir: string;
  let worker: WorkerProcess;

  const env = () => ({ REDIS_URL: redis.url, RULES_FILE: join(dir, 'rules.yaml'), LOG_LEVEL: 'warn' });
  function cli(args: string[]) {
    const res = spawnSync(process.execPath, [cliPath(), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env() }, timeout: 60_000 });
    return { code: res.status, out: res.stdout, err: res.stderr };
  }

  before(async () => {
    [pg, redis] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
    r = redis.client();
    dir = mkdtempSync(join(tmpdir(), 'cdc-dead-letters-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    await pg.query('CREATE TABLE docs (id int PRIMARY KEY, kind text NOT NULL, body jsonb NOT NULL)');
    worker = new WorkerProcess(
      { ...env(), DATABASE_URL: pg.url, SOURCE: 'postgres', PG_SLOT: 'dead_letters_test', PG_PUBLICATION: 'dead_letters_test', SHUTDOWN_TIMEOUT_MS: '5000' },
      join(dir, 'worker.log'),
    );
    await worker.start();
  });

  after(async () => {
    await worker?.terminate();
    r?.disconnect();
    await redis?.destroy();
    await pg?.destroy();
  });

  it('prints --help', () => {
    for (const args of [['dead-letters', '--help'], ['dead-letters', 'list', '--help'], ['dead-letters', 'redrive', '--help']]) {
      const res = cli(args);
      assert.equal(res.code, 0, args.join(' '));
      assert.match(res.out, /Usage: cdc-invalidator dead-letters/);
    }
    assert.match(cli(['dead-letters', 'redrive', '--help']).out, /--dry-run/);
    assert.equal(cli(['dead-letters', 'redrive']).code, 2, 'neither ids nor --all');
  });

  it('the worker dead-letters failed units with the reason; list shows them; redrive re-applies what can be applied and removes it', async () => {
    // A tag set of the wrong type: the Redis sink cannot SSCAN it (WRONGTYPE).
    await r.set('cdc:tag:doc-broken', 'a string where a set belongs');
    await pg.query(`INSERT INTO docs VALUES (1, 'broken', '{}')`);
    await waitFor('the WRONGTYPE dead letter', async () => (await r.xlen('cdc:dead-letter')) >= 1, 30_000, 50);

    // A jsonb value nested 6,000 deep: rule doc-body overflows the stack rendering it; rule doc still applies.
    await r.set('doc:2', 'cached');
    const deep = '{"a":'.repeat(6000) + '1' + '}'.repeat(6000);
    await pg.query(`INSERT INTO docs VALUES (2, 'fine', $1::jsonb)`, [deep]);
    await waitFor('doc:2 invalidated by the rule that did not fail', async () => (await r.exists('doc:2')) === 0, 30_000, 50);
    await waitFor('the rule-failure dead letter', async () => (await r.xlen('cdc:dead-letter')) >= 2, 30_000, 50);

    const list = cli(['dead-letters', 'list']);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /reason: +redis: .*WRONGTYPE/);
    assert.match(list.out, /reason: +rules: rule doc-body: Maximum call stack size exceeded/);
    assert.match(list.out, /payload: event insert public\.docs id=2 \(rule doc-body\) \(a value was cut\)/);
    assert.match(list.out, /source=postgres +position=[0-9A-F]+\/[0-9A-F]+/);
    assert.match(list.out, /2 of 2 dead letter\(s\)/);
    const json = JSON.parse(cli(['dead-letters', 'list', '--json']).out);
    assert.equal(json.total, 2);

    // The fix: the tag key becomes a proper set. The cut event cannot be re-run and stays.
    await r.del('cdc:tag:doc-broken');
    await r.set('tagged:1', 'cached');
    await r.sadd('cdc:tag:doc-broken', 'tagged:1');
    const dry = cli(['dead-letters', 'redrive', '--all', '--dry-run']);
    assert.equal(dry.code, 1, 'an entry would be kept');
    assert.match(dry.out, /would re-apply .*1 tag/);
    assert.match(dry.out, /kept: a value of the event was nested too deep/);
    assert.match(dry.out, /dry run: would re-apply 1 dead letter\(s\); 1 kept/);
    assert.equal(await r.exists('tagged:1'), 1, 'a dry run touches nothing');
    assert.equal(await r.xlen('cdc:dead-letter'), 2);

    const res = cli(['dead-letters', 'redrive', '--all']);
    assert.equal(res.code, 1, res.err);
    assert.match(res.out, /re-applied and removed 1 dead letter\(s\); 1 kept/);
    assert.equal(await r.exists('tagged:1'), 0, 'the tag was invalidated on redrive');
    const left = JSON.parse(cli(['dead-letters', 'list', '--json']).out);
    assert.equal(left.total, 1);
    assert.match(left.letters[0].reason, /rule doc-body/);
    assert.match(await worker.metrics(), /cdc_rule_failures_total\{rule="doc-body"\} 1/);
  });
});
