import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors';
import { defineConfig, extendConfig, parseConfig, parseConfigs, readFields } from './env-reader';
import * as field from './fields';

const SPEC = defineConfig(
  'Test',
  {
    flag: field.boolean({ name: 'T_FLAG', description: 'a flag', default: false }),
    count: field.integer({ name: 'T_COUNT', description: 'a count', default: 5, min: 1, max: 100 }),
    port: field.port({ name: 'T_PORT', description: 'a port' }),
    mode: field.oneOf(['fast', 'safe'], { name: 'T_MODE', description: 'a mode', default: 'safe' }),
    items: field.list({ name: 'T_ITEMS', description: 'items', default: [] }),
    url: field.url({ name: 'T_URL', description: 'a URL', protocols: ['https:'], secret: true }),
    token: field.text({ name: 'T_TOKEN', description: 'a token', secret: true, whitespace: false }),
    needed: field.text({ name: 'T_NEEDED', description: 'needed.', required: true }),
  },
  (v) => v,
);

function problems(env: Record<string, string>): string[] {
  const out: string[] = [];
  SPEC.read({ T_NEEDED: 'x', ...env }, out);
  return out;
}

describe('the environment reader', () => {
  it('applies defaults for unset and empty variables, and parses set ones', () => {
    const v = parseConfig(SPEC, { T_NEEDED: 'x', T_COUNT: '' });
    assert.deepEqual({ ...v }, { flag: false, count: 5, port: undefined, mode: 'safe', items: [], url: undefined, token: undefined, needed: 'x' });
    const w = parseConfig(SPEC, { T_NEEDED: 'x', T_FLAG: 'ON', T_COUNT: ' 7 ', T_PORT: '443', T_MODE: 'FAST', T_ITEMS: 'a, ,b', T_URL: 'https://h/x' });
    assert.deepEqual([w.flag, w.count, w.port, w.mode, w.items, w.url], [true, 7, 443, 'fast', ['a', 'b'], 'https://h/x']);
  });

  it('one boolean vocabulary, any case', () => {
    for (const t of ['true', 'TRUE', '1', 'yes', 'On']) assert.equal(parseConfig(SPEC, { T_NEEDED: 'x', T_FLAG: t }).flag, true, t);
    for (const f of ['false', 'False', '0', 'NO', 'off']) assert.equal(parseConfig(SPEC, { T_NEEDED: 'x', T_FLAG: f }).flag, false, f);
    assert.deepEqual(problems({ T_FLAG: 'y' }), ['T_FLAG="y": expected true or false (also 1/0, yes/no, on/off, any case)']);
  });

  it('strict integers and ports', () => {
    for (const bad of [' ', '0x10', '1e4', '1.5', '+3', '-1', '101', '9007199254740993']) assert.equal(problems({ T_COUNT: bad }).length, 1, bad);
    for (const bad of ['0', '65536', 'http']) assert.match(problems({ T_PORT: bad })[0], /^T_PORT=".*": expected an integer between 1 and 65535$/);
  });

  it('never echoes a secret, and names a required variable that is missing', () => {
    const p = problems({ T_URL: 'http://user:pw@h', T_TOKEN: 'has a space' });
    assert.deepEqual(p, ['T_URL=(hidden): must be a https:// URL', 'T_TOKEN=(hidden): must not contain whitespace']);
    const out: string[] = [];
    readFields({ needed: SPEC.fields[7] }, {}, out);
    assert.deepEqual(out, ['T_NEEDED: required (needed)']);
  });

  it('gathers every component into one error, and extends a spec with its host\'s fields', () => {
    const extended = extendConfig(SPEC, { extra: field.integer({ name: 'T_EXTRA', description: 'extra', default: 1, min: 0 }) }, (base, own) => ({ ...base, ...own }));
    assert.equal(extended.fields.length, SPEC.fields.length + 1);
    assert.throws(
      () => parseConfigs({ a: SPEC, b: extended }, { T_COUNT: 'x', T_EXTRA: '-1' }),
      (err: Error) => err instanceof ConfigError && /T_COUNT="x"/.test(err.message) && /T_EXTRA="-1"/.test(err.message) && /T_NEEDED: required/.test(err.message),
    );
  });
});
