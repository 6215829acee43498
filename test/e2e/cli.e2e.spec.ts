import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PostgresServer } from '@cdc/testing';
import { cliPath } from '../support/worker-process';

/** Promise 6 (clear on bad input) through the real CLI: messages with positions, non-zero exits. */
function cli(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [cliPath(), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
    timeout: 60_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

const repo = join(__dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cdc-cli-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('CLI', () => {
  it('prints --help for the program and every command', () => {
    const top = cli(['--help']);
    assert.equal(top.code, 0);
    for (const cmd of ['run', 'validate', 'explain']) assert.match(top.out, new RegExp(`\\b${cmd}\\b`));
    for (const cmd of ['run', 'validate', 'explain']) {
      const r = cli([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd} --help`);
      assert.match(r.out, /Usage: cdc-invalidator/);
    }
  });

  it('validate accepts the example rules', () => {
    const r = cli(['validate', join(repo, 'examples', 'rules.yaml')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /ok \(\d+ rules/);
  });

  it('validate reports malformed YAML with file:line:column', () => {
    const p = file('malformed.yaml', 'version: 1\nrules:\n  - name: a\n    table: [public.x\n');
    const r = cli(['validate', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: error:`));
  });

  it('validate reports an unknown key with its position and the allowed keys', () => {
    const p = file('unknown-key.yaml', 'version: 1\nrules:\n  - name: a\n    table: public.products\n    invalidat:\n      keys: ["p:{id}"]\n');
    const r = cli(['validate', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, /unknown-key\.yaml:5:5: error: .*invalidat/);
  });

  it('validate reports a bad template with its position', () => {
    const p = file('bad-template.yaml', 'version: 1\nrules:\n  - name: a\n    table: public.products\n    invalidate:\n      keys: ["p:{id"]\n');
    const r = cli(['validate', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad-template\.yaml:6:\d+: error: .*(unclosed|brace|\})/i);
  });

  it('explain prints the actions of an event without touching anything', () => {
    const event = JSON.stringify({
      op: 'update',
      table: 'public.products',
      before: { id: 1, slug: 'Old-Slug', title: 'a', price: '1.00', status: 'published', category_id: 3 },
      after: { id: 1, slug: 'new-slug', title: 'b', price: '1.00', status: 'published', category_id: 4 },
    });
    const r = cli(['explain', join(repo, 'examples', 'rules.yaml'), '--event', event]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /product:slug:old-slug/);
    assert.match(r.out, /product:slug:new-slug/);
    assert.match(r.out, /category-3/);
    assert.match(r.out, /category-4/);
    const bad = cli(['explain', join(repo, 'examples', 'rules.yaml'), '--event', '{"op":"upsert","table":"public.products"}']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /op/);
  });

  it('run names every bad environment variable at once and exits non-zero', () => {
    const r = cli(['run'], { SOURCE: 'mysql', HTTP_PORT: 'eighty', RULES_FILE: join(repo, 'examples', 'rules.yaml') });
    assert.equal(r.code, 2);
    assert.match(r.err, /SOURCE/);
    assert.match(r.err, /HTTP_PORT/);
  });

  it('run with a bad rules file fails at boot with the position', () => {
    const p = file('boot-bad.yaml', 'version: 2\nrules: []\n');
    const r = cli(['run'], { RULES_FILE: p, DATABASE_URL: 'postgres://127.0.0.1:1/x' });
    assert.notEqual(r.code, 0);
    assert.match(r.err, /boot-bad\.yaml:1:\d+/);
  });

  it('LOG_LEVEL in any case works; an unknown level is a named configuration error, not a pino stack trace', () => {
    const rules = join(repo, 'examples', 'rules.yaml');
    assert.equal(cli(['validate', rules], { LOG_LEVEL: 'DEBUG' }).code, 0);
    for (const cmd of [['validate', rules], ['run'], ['explain', rules, '--event', '{"op":"insert","table":"public.products","after":{"id":1}}']]) {
      const r = cli(cmd, { LOG_LEVEL: 'verbose', RULES_FILE: rules });
      assert.equal(r.code, 2, `${cmd[0]}: ${r.err}`);
      assert.match(r.err, /LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent/);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
  });

  it('a DATABASE_URL with port 99999 is a configuration error naming the variable', () => {
    const url = 'postgres://app:hunter2@127.0.0.1:99999/shop';
    const run = cli(['run'], { RULES_FILE: join(repo, 'examples', 'rules.yaml'), DATABASE_URL: url });
    assert.equal(run.code, 2, run.err);
    assert.match(run.err, /DATABASE_URL=\(hidden\): is not a valid URL/);
    const validate = cli(['validate', join(repo, 'examples', 'rules.yaml'), '--database-url', url]);
    assert.equal(validate.code, 2, validate.err);
    assert.match(validate.err, /--database-url is not a valid URL/);
    for (const r of [run, validate]) {
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
      assert.ok(!`${r.out}${r.err}`.includes('hunter2'), 'the password is not echoed');
    }
  });

  it('a rules file over RULES_MAX_BYTES is refused by validate and run with a clear error', () => {
    const big = file('big.yaml', `version: 1\nrules:\n  - name: a\n    table: public.products\n    invalidate:\n      keys: [${Array.from({ length: 400 }, (_, i) => `"k${i}:{id}"`).join(', ')}]\n`);
    const validate = cli(['validate', big], { RULES_MAX_BYTES: '2048' });
    assert.equal(validate.code, 1, validate.err);
    assert.match(validate.err, /big\.yaml:1:1: error: rules file is \d+ bytes, over the limit of 2048 bytes \(RULES_MAX_BYTES\)/);
    assert.equal(cli(['validate', big]).code, 0, 'within the default limit');
    const run = cli(['run'], { RULES_FILE: big, RULES_MAX_BYTES: '2048', DATABASE_URL: 'postgres://127.0.0.1:1/x' });
    assert.equal(run.code, 2, run.err);
    assert.match(run.err, /over the limit of 2048 bytes/);
  });

  it('explain judges an explicit message by the configured policy', () => {
    const rules = join(repo, 'examples', 'rules.yaml');
    const event = JSON.stringify({ op: 'message', explicit: { patterns: ['*'] } });
    const refused = cli(['explain', rules, '--event', event]);
    assert.equal(refused.code, 0, refused.err);
    assert.match(refused.out, /refused \(kind-not-allowed\): refused by policy: explicit invalidations may not carry patterns/);
    assert.match(refused.out, /total: 0 keys, 0 tags, 0 patterns/);
    const floor = cli(['explain', rules, '--event', event], { EXPLICIT_INVALIDATION_KINDS: 'keys,tags,patterns' });
    assert.match(floor.out, /refused \(below-pattern-floor\)/);
    const allowed = cli(['explain', rules, '--event', JSON.stringify({ op: 'message', explicit: { patterns: ['search:*'] } })], { EXPLICIT_INVALIDATION_KINDS: 'keys,tags,patterns' });
    assert.match(allowed.out, /patterns\s+search:\*/);
    const bad = cli(['explain', rules, '--event', event], { EXPLICIT_INVALIDATION_KINDS: 'all' });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /EXPLICIT_INVALIDATION_KINDS="all"/);
  });

  it("validate refuses a pattern of '*' with its position", () => {
    const p = file('star.yaml', 'version: 1\nrules:\n  - name: all\n    table: public.products\n    invalidate:\n      patterns: ["*"]\n');
    const r = cli(['validate', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, /star\.yaml:6:\d+: error: .*pattern '\*' keeps 0 literal character\(s\)/);
  });

  describe('validate against a database', () => {
    let pg: PostgresServer;
    before(async () => {
      pg = await PostgresServer.start();
      await pg.query(`CREATE TABLE products (id int PRIMARY KEY, slug text, title text); CREATE TABLE audit_log (a int)`);
    });
    after(async () => pg?.destroy());

    it('reports unknown tables and columns as errors and missing replica identity as a warning', () => {
      const p = file(
        'db.yaml',
        [
          'version: 1',
          'rules:',
          '  - name: p',
          '    table: public.products',
          '    invalidate:',
          '      keys: ["p:{id}", "p:slug:{before.slug}", "p:{colour}"]',
          '  - name: missing',
          '    table: public.nope',
          '    invalidate:',
          '      keys: ["x:{id}"]',
          '',
        ].join('\n'),
      );
      const r = cli(['validate', p, '--database-url', pg.url]);
      assert.equal(r.code, 1);
      assert.match(r.err, /db\.yaml:\d+:\d+: error: .*colour/);
      assert.match(r.err, /db\.yaml:\d+:\d+: error: .*public\.nope/);
      assert.match(r.err, /db\.yaml:\d+:\d+: warning: .*REPLICA IDENTITY/i);
    });

    it('reports a table without replica identity as an error naming the table and the fixes; insert-only allowed is a warning', () => {
      const p = file('nopk.yaml', ['version: 1', 'rules:', '  - name: audit', '    table: public.audit_log', '    on: [insert]', '    invalidate:', '      keys: ["audit:{a}"]', ''].join('\n'));
      const r = cli(['validate', p, '--database-url', pg.url]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /nopk\.yaml:3:\d+: error: rule 'audit': table public\.audit_log has no replica identity \(no primary key/);
      assert.match(r.err, /add a primary key, or ALTER TABLE public\.audit_log REPLICA IDENTITY FULL, or ALTER TABLE public\.audit_log REPLICA IDENTITY USING INDEX/);
      const allowed = cli(['validate', p, '--database-url', pg.url], { PG_ALLOW_INSERT_ONLY_TABLES: 'public.audit_log' });
      assert.equal(allowed.code, 0, allowed.err);
      assert.match(allowed.err, /warning: .*published for inserts and truncates only/);
    });
  });
});
