#!/usr/bin/env node
// Runs the compiled test files with node's built-in test runner.
//   node scripts/run-tests.js            all tests (unit, integration against real servers, e2e)
//   node scripts/run-tests.js --unit     only unit tests (*.spec.js that are not *.int.spec.js / *.e2e.spec.js)
//   node scripts/run-tests.js <filter>   only files whose path contains <filter>
// Files are discovered under dist/ (run `npm run build` first; `npm test` does).
'use strict';
const { spawnSync } = require('node:child_process');
const { readdirSync, statSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));
const root = join(__dirname, '..', 'dist');
if (!existsSync(root)) {
  console.error('dist/ not found: run `npm run build` first');
  process.exit(2);
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.spec.js')) out.push(p);
  }
  return out;
}

let files = walk(root, []).sort();
if (unitOnly) files = files.filter((f) => !/\.(int|e2e)\.spec\.js$/.test(f));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(2);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const res = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } },
);
process.exit(res.status ?? 1);
