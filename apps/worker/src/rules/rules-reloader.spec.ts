import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { metricsRegistry } from '@cdc/core';
import { CompiledRules, RulesLoadOptions, loadRulesFile } from '@cdc/rules';
import { waitFor } from '@cdc/testing';
import { ConfigMapMount } from './configmap-mount.test-helper';
import { RulesFileWatcher } from './rules-file-watcher';
import { RulesReloader } from './rules-reloader';

const rulesText = (keys: string[], extra = '') => `version: 1
rules:
  - name: product
    table: public.products
    invalidate:
      keys: [${keys.map((k) => JSON.stringify(k)).join(', ')}]
${extra}`;

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = metricsRegistry.getSingleMetric(name);
  if (!m) return NaN;
  const { values } = await m.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe('RulesReloader', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function setup(text: string, boot = {}, load?: RulesLoadOptions) {
    const dir = mkdtempSync(join(tmpdir(), 'cdc-reloader-'));
    dirs.push(dir);
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, text);
    let current: CompiledRules = loadRulesFile(file, load);
    const reloader = new RulesReloader({ file, boot, current: () => current, apply: (r) => (current = r), ...(load ? { load } : {}) });
    return { file, reloader, current: () => current };
  }

  it('applies a changed file that compiles, and says unchanged for the same content', async () => {
    const { file, reloader, current } = setup(rulesText(['p:{id}']));
    const before = current();
    const applied = await metric('cdc_rules_reload_total', { outcome: 'applied' });
    writeFileSync(file, rulesText(['p:{id}', 'q:{id}']));
    const report = await reloader.check('watch');
    assert.equal(report?.outcome, 'applied');
    assert.notEqual(current().hash, before.hash);
    assert.deepEqual(current().evaluate({ op: 'insert', schema: 'public', table: 'products', after: { id: 7 }, commitTimeMs: 0, position: '1' })[0].keys, ['p:7', 'q:7']);
    assert.equal(await metric('cdc_rules_reload_total', { outcome: 'applied' }), applied + 1);
    assert.equal(await metric('cdc_rules_valid'), 1);
    assert.equal(await metric('cdc_rules_info', { hash: current().hash }), 1);
    assert.equal(await metric('cdc_rules_info', { hash: before.hash }), 0, 'the old hash is no longer reported');

    assert.equal((await reloader.check('watch'))?.outcome, 'unchanged');
    assert.equal(await reloader.check('poll'), undefined, 'a periodic check that finds nothing new is not an event');
  });

  it('refuses a file over the size limit before reading it; the old rules stay and it is reported once', async () => {
    const { file, reloader, current } = setup(rulesText(['p:{id}']), {}, { maxBytes: 4096 });
    const before = current();
    const invalid = await metric('cdc_rules_reload_total', { outcome: 'invalid' });
    // Valid YAML, just too big: a huge key list (the probe reloaded 2.7 MB and the worker died of heap exhaustion).
    writeFileSync(file, rulesText(Array.from({ length: 500 }, (_, i) => `key:${i}:{id}`)));
    const report = await reloader.check('watch');
    assert.equal(report?.outcome, 'invalid');
    assert.match(report!.problems[0].message, /^rules file is \d+ bytes, over the limit of 4096 bytes \(RULES_MAX_BYTES\)/);
    assert.equal(report!.problems[0].line, 1);
    assert.equal(current(), before, 'the old rules stay in effect');
    assert.equal(await metric('cdc_rules_reload_total', { outcome: 'invalid' }), invalid + 1);
    assert.equal(await metric('cdc_rules_valid'), 0);
    assert.equal(await reloader.check('poll'), undefined, 'the same oversized file is not reported again');
    writeFileSync(file, rulesText(['p:{id}', 'q:{id}']));
    assert.equal((await reloader.check('watch'))?.outcome, 'applied');
  });

  it('applies the pattern floor on reload as at start', async () => {
    const { file, reloader, current } = setup(rulesText(['p:{id}']), {}, { minPatternPrefix: 6 });
    const before = current();
    writeFileSync(file, rulesText(['p:{id}'], '      patterns: ["list:*"]\n'));
    const report = await reloader.check('watch');
    assert.equal(report?.outcome, 'invalid');
    assert.match(report!.problems.map((p) => p.message).join('\n'), /at least 6 are required \(PATTERN_MIN_PREFIX\)/);
    assert.equal(current(), before);
  });

  it('keeps the old rules for an invalid file, reports file:line:column, and recovers', async () => {
    const { file, reloader, current } = setup(rulesText(['p:{id}']));
    const good = current();
    writeFileSync(file, rulesText(['p:{id']));
    const report = await reloader.check('watch');
    assert.equal(report?.outcome, 'invalid');
    assert.equal(current(), good, 'the old plan stays in effect');
    assert.equal(await metric('cdc_rules_valid'), 0);
    const p = report!.problems[0];
    assert.equal(p.file, file);
    assert.equal(p.line, 6);
    assert.ok(p.column > 1);
    // The same bad file again is not re-reported by the periodic check.
    assert.equal(await reloader.check('poll'), undefined);

    // Reverting to the file in effect makes the rules valid again without a swap.
    writeFileSync(file, rulesText(['p:{id}']));
    assert.equal((await reloader.check('poll'))?.outcome, 'unchanged');
    assert.equal(current(), good);
    assert.equal(await metric('cdc_rules_valid'), 1);
  });

  it('rejects a CDN alias that is not configured, pointing at the alias', async () => {
    const { file, reloader, current } = setup(rulesText(['p:{id}']), { cdnAliases: { cloudflare: new Set(['shop']), cloudfront: new Set() } });
    const good = current();
    writeFileSync(file, rulesText(['p:{id}'], '      cdn:\n        cloudflare: { zone: blog, tags: ["p-{id}"] }\n'));
    const report = await reloader.check('watch');
    assert.equal(report?.outcome, 'invalid');
    assert.equal(current(), good);
    assert.match(report!.problems[0].message, /zone "blog" is not configured in CLOUDFLARE_ZONES \(configured: shop\)/);
    assert.deepEqual([report!.problems[0].line, report!.problems[0].column], [8, 29]);
  });

  it('reports an unreadable file as invalid and keeps the rules', async () => {
    const { file, reloader, current } = setup(rulesText(['p:{id}']));
    const good = current();
    rmSync(file);
    const report = await reloader.check('poll');
    assert.equal(report?.outcome, 'invalid');
    assert.match(report!.problems[0].message, /cannot read the rules file \(ENOENT\)/);
    assert.equal(current(), good);
  });
});

describe('RulesFileWatcher on a ConfigMap-style mount', () => {
  it('sees the kubelet swapping ..data, which a watch on the file itself would miss', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdc-watch-'));
    const mount = new ConfigMapMount(join(dir, 'rules'));
    mount.write({ 'rules.yaml': rulesText(['p:{id}']) });
    let current = loadRulesFile(mount.file('rules.yaml'));
    const reloader = new RulesReloader({ file: mount.file('rules.yaml'), boot: {}, current: () => current, apply: (r) => (current = r) });
    const outcomes: string[] = [];
    // A long poll interval: only the directory watch can see the change within the wait.
    const watcher = new RulesFileWatcher({
      file: mount.file('rules.yaml'),
      debounceMs: 50,
      pollIntervalMs: 3_600_000,
      onCheck: (t) => void reloader.check(t).then((r) => r && outcomes.push(r.outcome)),
    });
    try {
      watcher.start();
      mount.write({ 'rules.yaml': rulesText(['p:{id}', 'swapped:{id}']) });
      await waitFor('the swapped rules', async () => outcomes.includes('applied'), 10_000, 20);
      assert.equal(current.rules.length, 1);
      assert.deepEqual(current.evaluate({ op: 'delete', schema: 'public', table: 'products', before: { id: 1 }, commitTimeMs: 0, position: '1' })[0].keys, ['p:1', 'swapped:1']);
    } finally {
      watcher.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
