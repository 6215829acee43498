import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../support/repo-files';

/**
 * No import circles in apps/ and libs/ (what `npx madge --circular --extensions ts apps libs`
 * checks, without the dependency): every import, type-only ones included, resolved the way
 * tsc resolves it (tsconfig paths for @cdc/*), then strongly connected components.
 */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function importGraph(): Map<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(REPO_ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  assert.ok(config, 'tsconfig.json readable');
  const files = [...tsFiles(join(REPO_ROOT, 'apps')), ...tsFiles(join(REPO_ROOT, 'libs'))];
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets: string[] = [];
    for (const imported of importedFiles) {
      const resolved = ts.resolveModuleName(imported.fileName, file, config.options, ts.sys).resolvedModule?.resolvedFileName;
      if (resolved && known.has(resolved)) targets.push(resolved);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one file (or a file importing itself). */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.map((f) => relative(REPO_ROOT, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('architecture', () => {
  it('has no import circles in apps/ and libs/', () => {
    const graph = importGraph();
    assert.ok(graph.size > 100, `only ${graph.size} files found`);
    // The walk resolves relative imports and the @cdc/* aliases (else it would pass on an empty graph).
    const edge = (from: string, to: string): boolean => (graph.get(join(REPO_ROOT, from)) ?? []).includes(join(REPO_ROOT, to));
    assert.ok(edge('apps/worker/src/main.ts', 'apps/worker/src/cli/commands.ts'));
    assert.ok(edge('libs/sinks/redis/src/redis-config.ts', 'libs/core/src/index.ts'));
    assert.deepEqual(circles(graph), []);
  });

  it('finds a circle when there is one (the check itself works)', () => {
    const g = new Map([
      ['/r/a.ts', ['/r/b.ts']],
      ['/r/b.ts', ['/r/c.ts']],
      ['/r/c.ts', ['/r/a.ts']],
      ['/r/d.ts', ['/r/a.ts']],
    ]);
    assert.equal(circles(g).length, 1);
    assert.equal(circles(g)[0].length, 3);
  });
});
