import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, TEST_CODE, readRepoFile, repoPath } from '../support/repo-files';

/**
 * docs/testing.md: where test helpers live. Test code inside apps/ and libs/ is named
 * `*.spec.ts` or `*.test-helper.ts` (the image build drops exactly those), shared servers
 * and fakes are `@cdc/testing` (libs/testing), and helpers of the repository-level suites
 * that more than one suite uses are in test/support/.
 */

/**
 * Outliers allowed while they wait to be renamed to `*.test-helper.ts` (none left). The test
 * fails when one is renamed and still listed, so the list only shrinks.
 */
const KNOWN_OUTLIERS = new Map<string, string>([]);

interface TsFile {
  readonly path: string;
  readonly text: string;
}

function tsFiles(top: string): TsFile[] {
  const out: TsFile[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'node_modules') walk(path);
      } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        out.push({ path: relative(REPO_ROOT, path).split(sep).join('/'), text: readFileSync(path, 'utf8') });
      }
    }
  };
  walk(repoPath(top));
  return out;
}

/** Repository paths of the files `file` imports by relative path. */
function relativeImports(file: TsFile): string[] {
  const out: string[] = [];
  for (const m of file.text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const base = resolve(REPO_ROOT, dirname(file.path), m[1]);
    const hit = [`${base}.ts`, join(base, 'index.ts'), base].find((p) => existsSync(p) && statSync(p).isFile());
    if (hit) out.push(relative(REPO_ROOT, hit).split(sep).join('/'));
  }
  return out;
}

const TEST_ONLY_IMPORT = /(?:\bfrom\s+|\brequire\(\s*)['"](node:test|node:assert(?:\/strict)?|@cdc\/testing(?:\/[^'"]*)?)['"]/;
const TEST_ONLY_NAME = /(^|\/)(test-support|fixtures?|__tests__|support)\/|fixture|testing-helper|test-helper|(^|[/-])fakes?[-.]/i;

const code = [...tsFiles('apps'), ...tsFiles('libs')].filter((f) => !f.path.startsWith('libs/testing/'));
const importers = new Map<string, string[]>();
// scripts/ and bench/ are application users too (gen-schemas renders the README from app code).
for (const f of [...code, ...tsFiles('scripts'), ...tsFiles('bench')]) for (const target of relativeImports(f)) importers.set(target, [...(importers.get(target) ?? []), f.path]);

/** Why a file that is not named as test code looks like test code, or undefined. */
function testOnlyReason(f: TsFile): string | undefined {
  if (TEST_ONLY_IMPORT.test(f.text)) return `imports ${TEST_ONLY_IMPORT.exec(f.text)![1]}`;
  if (TEST_ONLY_NAME.test(f.path)) return 'named like a test helper';
  const by = importers.get(f.path) ?? [];
  if (by.length > 0 && by.every((p) => TEST_CODE.test(p))) return `imported only by tests (${by.join(', ')})`;
  return undefined;
}

describe('test helper convention (docs/testing.md)', () => {
  it('test code in apps/ and libs/ is named *.spec.ts or *.test-helper.ts', () => {
    const outliers = code.filter((f) => !TEST_CODE.test(f.path)).flatMap((f) => {
      const why = testOnlyReason(f);
      return why ? [`${f.path}: ${why}`] : [];
    });
    assert.deepEqual(
      outliers.filter((o) => !KNOWN_OUTLIERS.has(o.split(':')[0])),
      [],
      'rename these to <name>.test-helper.ts (or move shared servers and fakes to libs/testing)',
    );
    for (const path of KNOWN_OUTLIERS.keys()) assert.ok(outliers.some((o) => o.startsWith(`${path}:`)), `${path} was renamed: drop it from KNOWN_OUTLIERS`);
  });

  it('no application file imports a test helper (so the image can drop them)', () => {
    const bad = code
      .filter((f) => !TEST_CODE.test(f.path) && !KNOWN_OUTLIERS.has(f.path))
      .flatMap((f) => relativeImports(f).filter((t) => TEST_CODE.test(t)).map((t) => `${f.path} -> ${t}`));
    assert.deepEqual(bad, []);
  });

  it('the image build removes exactly those names', () => {
    const prune = readRepoFile('Dockerfile').replace(/\\\n/g, ' ').split('\n').find((l) => /find dist .*-name/.test(l)) ?? '';
    const patterns = [...prune.matchAll(/-name\s+'([^']+)'/g)].map((m) => m[1]).sort();
    assert.deepEqual(patterns, ['*.spec.js', '*.spec.js.map', '*.test-helper.js', '*.test-helper.js.map']);
  });

  it('a helper of the repository-level suites that another suite, bench/ or scripts/ uses lives in test/support/', () => {
    const users = [...tsFiles('test'), ...tsFiles('bench'), ...tsFiles('scripts')];
    const suiteOf = (path: string): string => path.split('/').slice(0, path.startsWith('test/') ? 2 : 1).join('/');
    const bad = users.flatMap((f) =>
      relativeImports(f)
        .filter((t) => t.startsWith('test/') && !t.startsWith('test/support/') && suiteOf(t) !== suiteOf(f.path))
        .map((t) => `${f.path} -> ${t}`),
    );
    assert.deepEqual(bad, []);
  });
});
