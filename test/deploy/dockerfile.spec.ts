import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { workerConfigFromEnv } from '../../apps/worker/src/config/worker-config';
import { CodeFacts } from './code-facts';
import { workloads } from './deploy-set';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT, readRepoFile, repoPath } from '../support/repo-files';
import { WORKER_NODE_OPTIONS } from '../support/worker-process';

/** The Dockerfile as stages of instructions (continuation lines joined). */
function stages(text: string): Array<{ from: string; name?: string; lines: string[] }> {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  const out: Array<{ from: string; name?: string; lines: string[] }> = [];
  for (const line of lines) {
    const arg = /^ARG\s+(\w+)=(\S+)/.exec(line);
    if (arg && out.length === 0) args.set(arg[1], arg[2]);
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1].replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? ''), name: from[2], lines: [] });
    else if (out.length) out[out.length - 1].lines.push(line);
  }
  return out;
}

const dockerfile = readRepoFile('Dockerfile');
const all = stages(dockerfile);
const runtime = all[all.length - 1];
/** Node 20 reached end of life in April 2026; 24 is maintained until April 2028. */
const NODE_IMAGE = 'node:24-slim';
const pkg = JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> };

describe('Dockerfile', () => {
  it('runs the worker with the same Node heap cap the e2e memory tests use', () => {
    const env = runtime.lines.find((l) => /^ENV NODE_OPTIONS=/.test(l));
    assert.ok(env, 'the runtime stage sets NODE_OPTIONS');
    assert.equal(/NODE_OPTIONS="?([^"]*)"?/.exec(env)![1], WORKER_NODE_OPTIONS);
  });

  it('the benchmark and the CLI script run node with the image\'s flags, and no manifest overrides them', () => {
    const scripts = (JSON.parse(readRepoFile('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['bench', 'cli']) assert.ok(scripts[name].includes(`node ${WORKER_NODE_OPTIONS} `), `package.json ${name}: ${scripts[name]}`);
    const manifests = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? manifests(join(dir, f)) : /\.ya?ml$/.test(f) ? [join(dir, f)] : []));
    for (const file of manifests(repoPath('deploy'))) assert.doesNotMatch(readFileSync(file, 'utf8'), /NODE_OPTIONS/, relative(REPO_ROOT, file));
  });

  it('builds in one stage and runs on a maintained Node LTS (node:24-slim) with production dependencies only', () => {
    assert.ok(all.length >= 3, 'multi-stage');
    for (const s of all) assert.ok(s.from === NODE_IMAGE || all.some((o) => o.name === s.from), `stage from ${s.from}`);
    const build = all.find((s) => s.lines.some((l) => /npm run build/.test(l)));
    assert.ok(build?.lines.some((l) => /^RUN npm ci\b(?!.*--omit=dev)/.test(l)), 'the build stage installs all dependencies with npm ci');
    const prodDeps = all.find((s) => s.lines.some((l) => /npm ci\b.*--omit=dev/.test(l)));
    assert.ok(prodDeps?.name, 'a stage installs production dependencies with npm ci --omit=dev');
    assert.equal(runtime.from, NODE_IMAGE);
    assert.ok(runtime.lines.some((l) => l.startsWith(`COPY --from=${prodDeps.name}`) && l.includes('node_modules')), 'runtime node_modules come from the production stage');
    assert.ok(!runtime.lines.some((l) => /npm (ci|install)\b/.test(l) && !/--omit=dev/.test(l)), 'no dev install in the runtime stage');
  });

  it('CI runs the unit tests on the Node major the image ships', () => {
    const major = /^node:(\d+)-slim$/.exec(NODE_IMAGE)?.[1];
    const pinned = /^version="\$\{NODE_LTS_VERSION:-(\d+)\.\d+\.\d+\}"$/m.exec(readRepoFile('scripts/setup-node-lts.sh'))?.[1];
    assert.ok(major && pinned, 'the image tag and the CI Node version are both found');
    assert.equal(pinned, major);
    assert.match(readRepoFile('.ci/run'), /scripts\/setup-node-lts\.sh[\s\S]*npm run test:unit[\s\S]*\nnpm test\n/, '.ci/run: LTS unit tests first, the full suite last');
  });

  it('runs as the same numeric non-root user as the pods', () => {
    const user = runtime.lines.find((l) => l.startsWith('USER '));
    const uid = Number(/^USER\s+(\d+)/.exec(user ?? '')?.[1]);
    assert.ok(uid > 0, 'numeric non-root USER (Kubernetes can only verify runAsNonRoot for a numeric uid)');
    for (const w of workloads()) assert.equal((w.pod.securityContext as { runAsUser?: number }).runAsUser, uid, w.where);
  });

  it('starts the CLI with `run` by default and exposes HTTP_PORT', () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])$/m.exec(runtime.lines.join('\n'))?.[1] ?? 'null') as string[] | null;
    assert.deepEqual(entrypoint, ['node', pkg.bin['cdc-invalidator']], 'ENTRYPOINT is the package bin, exec form (signals reach node)');
    const cmd = JSON.parse(/^CMD\s+(\[.*\])$/m.exec(runtime.lines.join('\n'))?.[1] ?? 'null') as string[] | null;
    assert.deepEqual(cmd, ['run']);
    assert.ok(new CodeFacts().cliCommands().has('run'));
    assert.ok(runtime.lines.includes(`EXPOSE ${workerConfigFromEnv({}).HTTP_PORT}`));
  });

  it('.dockerignore keeps secrets, build output and local state out without hiding what the build copies', () => {
    const ignored = readRepoFile('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['.git', 'node_modules', 'dist', '**/.env']) assert.ok(ignored.includes(p), `.dockerignore should list ${p}`);
    const copied = all.flatMap((s) => s.lines).filter((l) => /^COPY\s+(?!--from)/.test(l)).flatMap((l) => l.replace(/^COPY\s+(--\S+\s+)*/, '').split(/\s+/).slice(0, -1));
    for (const source of copied) assert.ok(!ignored.includes(source), `${source} is copied but ignored`);
  });

  it('the sources the build stage copies compile on their own (no import reaches outside them)', () => {
    const build = all.find((st) => st.lines.some((l) => /npm run build/.test(l)))!;
    const copiedDirs = build.lines
      .filter((l) => /^COPY\s+(?!--from)/.test(l))
      .flatMap((l) => l.replace(/^COPY\s+(--\S+\s+)*/, '').split(/\s+/).slice(0, -1))
      .filter((p) => statSync(repoPath(p)).isDirectory());
    assert.ok(copiedDirs.includes('apps') && copiedDirs.includes('libs'));
    const outside: string[] = [];
    for (const dir of copiedDirs) {
      for (const file of tsFiles(repoPath(dir))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|require\(|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
          const target = relative(REPO_ROOT, resolve(dirname(file), m[1]));
          if (!copiedDirs.some((d) => target === d || target.startsWith(`${d}/`))) outside.push(`${relative(REPO_ROOT, file)} -> ${m[1]}`);
        }
      }
    }
    assert.deepEqual(outside, [], 'the image build would not find these');
  });
});

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}
