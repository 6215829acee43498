import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { loadRulesFile } from './load';
import { RULES_JSON_SCHEMA_PATH, rulesJsonSchemaText } from './rules-json-schema';

/** The repository root, found from this file whether it runs from source (tsx) or from dist/. */
function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'examples'))) return dir;
  }
  throw new Error('repository root not found above ' + __dirname);
}

const root = repoRoot();
const committed = readFileSync(join(root, RULES_JSON_SCHEMA_PATH), 'utf8');
/** The committed file compiled by a fresh ajv, as an editor would read it (not the loader's object). */
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(JSON.parse(committed));
const examples = readdirSync(join(root, 'examples')).filter((f) => /\.ya?ml$/.test(f));

describe('docs/rules.schema.json', () => {
  it('is exactly what the loader schema produces (run `npm run gen:schemas` after changing rules-schema.ts)', () => {
    assert.equal(committed, rulesJsonSchemaText());
  });

  it('refuses what the loader refuses structurally (an unknown key, an empty when.any)', () => {
    const bad = (rule: object) => ({ version: 1, rules: [{ name: 'a', table: 'public.a', invalidate: { keys: ['k'] }, ...rule }] });
    assert.equal(validate(bad({})), true);
    assert.equal(validate(bad({ tabel: 'public.b' })), false);
    assert.equal(validate(bad({ when: { any: [] } })), false);
    assert.equal(validate(bad({ when: { any: [{ 'after.status': { equals: 'x' } }] } })), false);
  });

  for (const file of examples) {
    it(`validates examples/${file}, which names it on its first line and loads`, () => {
      const text = readFileSync(join(root, 'examples', file), 'utf8');
      assert.equal(text.split('\n')[0], '# yaml-language-server: $schema=../docs/rules.schema.json');
      assert.equal(validate(parse(text)), true, JSON.stringify(validate.errors));
      assert.deepEqual(loadRulesFile(join(root, 'examples', file)).warnings, []);
    });
  }

  it('found the example rules files', () => {
    assert.ok(examples.includes('rules.yaml'), examples.join(', '));
  });
});
