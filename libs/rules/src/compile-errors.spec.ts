import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LocatedProblem, RulesError } from '@cdc/core';
import { compileRules } from './load';

/** Compiles text expected to be invalid and returns `line:column: severity: message` strings. */
function problemsOf(lines: string[]): string[] {
  try {
    compileRules(lines.join('\n') + '\n', 'fixture.yaml');
  } catch (err) {
    assert.ok(err instanceof RulesError, `expected RulesError, got ${String(err)}`);
    for (const p of err.problems) assert.equal(p.file, 'fixture.yaml');
    assert.ok(err.message.startsWith('fixture.yaml:'), 'message lines read file:line:column');
    return err.problems.map((p: LocatedProblem) => `${p.line}:${p.column}: ${p.severity}: ${p.message}`);
  }
  assert.fail('expected a RulesError');
}

function expectProblem(found: string[], position: string, pattern: RegExp): void {
  const hit = found.find((p) => p.startsWith(`${position}: `) && pattern.test(p));
  assert.ok(hit, `expected a problem at ${position} matching ${pattern}; got:\n${found.join('\n')}`);
}

describe('rules compilation errors (exact positions)', () => {
  it('reports a YAML syntax error with its position', () => {
    assert.deepEqual(problemsOf(['version: 1', 'rules:', '  - name: a: b']), [
      '3:11: error: invalid YAML: Nested mappings are not allowed in compact mappings',
    ]);
    assert.deepEqual(problemsOf(['version: 1', 'rules:', '  - name: a', '    table: @x']), [
      '4:12: error: invalid YAML: Plain value cannot start with reserved character @',
    ]);
  });

  it('reports a duplicate YAML key as a syntax error at the second key', () => {
    const found = problemsOf(['version: 1', 'version: 1', 'rules: []']);
    expectProblem(found, '2:1', /invalid YAML: Map keys must be unique/);
  });

  it('collects every schema and meaning problem at once', () => {
    const found = problemsOf([
      /* 1 */ 'version: 1',
      /* 2 */ 'colour: blue',
      /* 3 */ 'rules:',
      /* 4 */ '  - name: one',
      /* 5 */ '    tabel: public.a',
      /* 6 */ '    table: products',
      /* 7 */ '    on: [insert, upsert]',
      /* 8 */ '    invalidate:',
      /* 9 */ '      keys: ["a:{id", "b:{}", "c:{middle.x}", "d:{id|slugify}", 5]',
      /* 10 */ '  - name: one',
      /* 11 */ '    table: public.b',
      /* 12 */ '    on: [insert]',
      /* 13 */ '    when:',
      /* 14 */ '      changed: [title]',
      /* 15 */ '    invalidate: {}',
      /* 16 */ '  - name: three',
      /* 17 */ '    table: public.c',
      /* 18 */ '    on: delete',
      /* 19 */ '    when:',
      /* 20 */ '      where:',
      /* 21 */ '        after.status: { eq: x, equals: y }',
      /* 22 */ '    invalidate:',
      /* 23 */ '      tags: "t"',
      /* 24 */ '      cdn:',
      /* 25 */ '        cloudflare:',
      /* 26 */ '          zone: shop',
      /* 27 */ '          files: ["https://{after.host}/p/{id}", "ftp://x/{id}"]',
      /* 28 */ '          prefixes: ["https://shop.example.com/p/{id}"]',
      /* 29 */ '        cloudfront:',
      /* 30 */ '          distribution: web',
      /* 31 */ '          paths: ["p/{id}", "/a*/b", "/x/{id}*"]',
    ]);
    expectProblem(found, '2:1', /unknown key 'colour' in the document; allowed keys: version, defaults, rules/);
    expectProblem(found, '5:5', /unknown key 'tabel' in rule 'one' \(did you mean 'table'\?\); allowed keys: name, description, table, tables, on, when, invalidate/);
    expectProblem(found, '6:12', /table 'products' must be written schema\.table/);
    expectProblem(found, '7:18', /unknown op 'upsert'; expected one of insert, update, delete, truncate, snapshot/);
    expectProblem(found, '9:17', /unclosed '\{'/);
    expectProblem(found, '9:26', /empty placeholder/);
    expectProblem(found, '9:34', /unknown side 'middle'/);
    expectProblem(found, '9:50', /unknown filter 'slugify'/);
    expectProblem(found, '9:65', /invalidate\.keys\[4\]: expected a string, got number 5/);
    expectProblem(found, '10:11', /duplicate rule name 'one' \(first used at line 4\)/);
    expectProblem(found, '14:7', /warning: when\.changed applies to updates only/);
    expectProblem(found, '15:5', /rule 'one' invalidates nothing/);
    expectProblem(found, '21:32', /unknown key 'equals' in rule 'three' when\.where\.after\.status; allowed keys: eq, ne, in, not_in, gt, gte, lt, lte, is_null, exists/);
    expectProblem(found, '21:9', /warning: 'after\.status' never has a value: rule 'three' fires only on delete/);
    expectProblem(found, '23:13', /invalidate\.tags: expected a list, got the string "t"/);
    expectProblem(found, '27:19', /Cloudflare file URL 'https:\/\/\{after\.host\}\/p\/\{id\}' interpolates its host/);
    expectProblem(found, '27:50', /Cloudflare file URL 'ftp:\/\/x\/\{id\}' must start with a static http:\/\/ or https:\/\//);
    expectProblem(found, '28:22', /Cloudflare prefix .* must not have a scheme/);
    expectProblem(found, '31:19', /CloudFront path 'p\/\{id\}' must start with '\/'/);
    expectProblem(found, '31:29', /CloudFront path '\/a\*\/b': '\*' is allowed only as the last character/);
    assert.ok(!found.some((p) => p.includes("'/x/{id}*'")), 'a static * at the very end is allowed');
    assert.equal(found.filter((p) => p.includes(': error: ')).length, 18, found.join('\n'));
  });

  it('reports missing required keys, wrong types and an unsupported version', () => {
    const found = problemsOf([
      /* 1 */ 'version: 2',
      /* 2 */ 'rules:',
      /* 3 */ '  - table: public.a',
      /* 4 */ '    on: 5',
      /* 5 */ '    invalidate:',
      /* 6 */ '      keys: [a]',
      /* 7 */ '  - name: b',
      /* 8 */ '    invalidate: { keys: [k] }',
      /* 9 */ '  - name: c',
      /* 10 */ '    table: public.c',
      /* 11 */ '    tables: [public.d]',
      /* 12 */ '    invalidate: { keys: [k] }',
      /* 13 */ '  - name: d',
      /* 14 */ '    table: public.d',
      /* 15 */ '    invalidate: { cdn: { cloudfront: { distribution: "{x}", paths: [] } } }',
    ]);
    expectProblem(found, '1:10', /version: unsupported value 2; expected 1/);
    expectProblem(found, '3:5', /rules\[0\]: missing required key 'name'/);
    expectProblem(found, '4:9', /rules\[0\] on: expected a string or a list, got number 5/);
    expectProblem(found, '7:5', /rule 'b' names no table; expected 'table: schema\.table' or 'tables: \[\.\.\]'/);
    expectProblem(found, '11:5', /rule 'c' has both 'table' and 'tables'/);
    expectProblem(found, '15:54', /distribution '\{x\}' must be an alias defined in configuration/);
    expectProblem(found, '15:68', /cloudfront\.paths: must not be an empty list/);
  });

  it('rejects an empty or non-mapping document', () => {
    assert.deepEqual(problemsOf(['']), ["1:1: error: the rules file must be a mapping with 'version' and 'rules' keys, got nothing (null)"]);
    assert.deepEqual(problemsOf(['- a']), ["1:1: error: the rules file must be a mapping with 'version' and 'rules' keys, got a list"]);
  });

  it('rejects static-only violations: templated default channels and hosts', () => {
    const found = problemsOf([
      /* 1 */ 'version: 1',
      /* 2 */ 'defaults:',
      /* 3 */ '  channels: ["l1:{tenant}"]',
      /* 4 */ 'rules:',
      /* 5 */ '  - name: a',
      /* 6 */ '    table: public.a',
      /* 7 */ '    invalidate:',
      /* 8 */ '      cdn:',
      /* 9 */ '        cloudflare: { zone: shop, hosts: ["{tenant}.example.com"] }',
    ]);
    expectProblem(found, '3:14', /default channel 'l1:\{tenant\}' must be static/);
    expectProblem(found, '9:43', /Cloudflare host '\{tenant\}\.example\.com' must be static/);
  });

  it('reports a bad when.any at its position: empty list, empty item, unknown key or side inside', () => {
    const found = problemsOf([
      /* 1 */ 'version: 1',
      /* 2 */ 'rules:',
      /* 3 */ '  - name: a',
      /* 4 */ '    table: public.a',
      /* 5 */ '    when: { any: [] }',
      /* 6 */ '    invalidate: { keys: [k] }',
      /* 7 */ '  - name: b',
      /* 8 */ '    table: public.a',
      /* 9 */ '    when:',
      /* 10 */ '      any:',
      /* 11 */ '        - {}',
      /* 12 */ '        - after.status: { equals: published }',
      /* 13 */ '        - middle.status: { eq: published }',
      /* 14 */ '        - after.status: published',
      /* 15 */ '    invalidate: { keys: [k] }',
      /* 16 */ '  - name: c',
      /* 17 */ '    table: public.a',
      /* 18 */ '    when: { anyof: [{ status: { eq: x } }] }',
      /* 19 */ '    invalidate: { keys: [k] }',
    ]);
    expectProblem(found, '5:18', /rule 'a' when\.any: must not be an empty list/);
    expectProblem(found, '11:11', /rule 'b' when\.any\[0\]: give at least one condition/);
    expectProblem(found, '12:27', /unknown key 'equals' in rule 'b' when\.any\[1\]\.after\.status; allowed keys: eq, ne, in/);
    expectProblem(found, '13:11', /when\.any\[2\] key 'middle\.status': unknown side 'middle'/);
    expectProblem(found, '14:25', /rule 'b' when\.any\[3\]\.after\.status: expected a mapping, got the string "published"/);
    expectProblem(found, '18:13', /unknown key 'anyof' in rule 'c' when \(did you mean 'any'\?\); allowed keys: changed, where, any/);
    assert.equal(found.filter((p) => p.includes(': error: ')).length, 6, found.join('\n'));
  });

  it('warns about a when.any key on a side the rule never has', () => {
    const rules = compileRules(
      ['version: 1', 'rules:', '  - name: a', '    table: public.a', '    on: insert', '    when: { any: [{ before.status: { eq: x } }, { after.status: { eq: x } }] }', '    invalidate: { keys: [k] }'].join('\n'),
      'w.yaml',
    );
    assert.deepEqual(rules.warnings.map((w) => `${w.line}:${w.column}: ${w.message}`), [
      "6:21: 'before.status' never has a value: rule 'a' fires only on insert, where there is no old row",
    ]);
  });

  it('points at the character inside a quoted template', () => {
    const found = problemsOf(['version: 1', 'rules:', "  - { name: a, table: public.a, invalidate: { keys: ['x:{id|nope}'] } }"]);
    expectProblem(found, '3:57', /unknown filter 'nope'/);
  });
});

describe('warnings', () => {
  it('are exposed on the compiled rules and do not throw', () => {
    const rules = compileRules(
      ['version: 1', 'rules:', '  - name: a', '    table: public.a', '    on: insert', '    when: { changed: [x] }', '    invalidate: { keys: ["a:{before.id}"] }'].join('\n'),
      'w.yaml',
    );
    assert.deepEqual(
      rules.warnings.map((w) => `${w.file}:${w.line}:${w.column}: ${w.severity}`),
      ['w.yaml:6:13: warning', 'w.yaml:7:29: warning'],
    );
    assert.match(rules.warnings[1].message, /'\{before\.id\}' never has a value: rule 'a' fires only on insert, where there is no old row/);
  });
});
