import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** The repository root, found from here whether the tests run from test/ (tsx) or dist/test/. */
export const REPO_ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'deploy'))) return dir;
    if (dirname(dir) === dir) throw new Error(`repository root not found above ${start}`);
  }
}

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export function readRepoFile(...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8');
}

export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/**
 * The application's TypeScript sources: apps/ and libs/ without tests, test fixtures and
 * test servers. "The code reads X" means one of these does.
 */
export function applicationSources(): SourceFile[] {
  const out: SourceFile[] = [];
  for (const top of ['apps', 'libs']) walk(repoPath(top), out);
  return out;
}

function walk(dir: string, out: SourceFile[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name === 'node_modules') continue;
      if (relative(REPO_ROOT, path) === join('libs', 'testing')) continue;
      walk(path, out);
    } else if (isApplicationFile(name)) {
      out.push({ path: relative(REPO_ROOT, path), text: readFileSync(path, 'utf8') });
    }
  }
}

/** Test code inside apps/ and libs/ (docs/testing.md): specs and package-local test helpers; the image build drops exactly these. */
export const TEST_CODE = /\.(spec|test-helper)\.ts$/;

function isApplicationFile(name: string): boolean {
  if (!name.endsWith('.ts') || name.endsWith('.d.ts')) return false;
  return !TEST_CODE.test(name);
}
