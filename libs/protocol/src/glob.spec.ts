import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileGlob, globEscape, hasGlobSyntax, literalPrefix } from './glob';

describe('glob (the one implementation the worker and the client share)', () => {
  it('matches like Redis for the common forms', () => {
    const cases: Array<[string, string, boolean]> = [
      ['search:*', 'search:', true],
      ['search:*', 'search:a:b', true],
      ['search:*', 'searc', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['[abc]x', 'bx', true],
      ['[^abc]x', 'bx', false],
      ['[^abc]x', 'dx', true],
      ['[a-c]', 'b', true],
      ['[c-a]', 'b', true],
      ['[a-c]', 'd', false],
      ['a\\*b', 'a*b', true],
      ['a\\*b', 'axb', false],
      ['[\\]]', ']', true],
      ['x.y', 'xzy', false],
      ['(a|b)', '(a|b)', true],
    ];
    for (const [pattern, key, expected] of cases) assert.equal(compileGlob(pattern)(key), expected, `${pattern} ~ ${key}`);
  });

  it('an escaped value matches only itself', () => {
    const values = ['*', 'a[bc]?', '[^a]*', 'x\\*y', '?', 'a-z]', '\\', 'plain'];
    for (const v of values) {
      const m = compileGlob(globEscape(v));
      assert.ok(m(v), v);
      for (const other of values) if (other !== v) assert.ok(!m(other), `${v} must not match ${other}`);
    }
  });

  it('finds the literal prefix and glob syntax', () => {
    assert.equal(literalPrefix('search:\\*x:*'), 'search:*x:');
    assert.equal(literalPrefix('*'), '');
    assert.equal(literalPrefix('abc'), 'abc');
    assert.ok(hasGlobSyntax('a*'));
    assert.ok(!hasGlobSyntax('a\\*'));
    assert.ok(hasGlobSyntax('[ab]'));
  });
});
