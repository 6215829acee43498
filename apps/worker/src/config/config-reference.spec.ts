import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Field } from '@cdc/core';
import { documentedDefault, renderConfigurationReference, withConfigurationReference } from './config-reference';
import { configurationReference } from './worker-settings';

// dist/apps/worker/src/config → the repository root.
const repo = join(__dirname, '..', '..', '..', '..', '..');
const declared = new Map<string, Field<unknown>>();
for (const spec of configurationReference()) for (const f of spec.fields) declared.set(f.name, f);

/** Rows of the markdown tables whose header starts with `variable`: the variables named in the first cell, and the default cell. */
function variableRows(text: string): Array<{ names: string[]; defaultCell?: string; line: number }> {
  const rows: Array<{ names: string[]; defaultCell?: string; line: number }> = [];
  let inTable = false;
  let defaultColumn = -1;
  text.split('\n').forEach((line, i) => {
    const cells = line.startsWith('|') ? line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()) : undefined;
    if (!cells) {
      inTable = false;
      return;
    }
    if (/^variable$/i.test(cells[0])) {
      inTable = true;
      defaultColumn = cells.findIndex((c) => /^default$/i.test(c));
      return;
    }
    if (!inTable || /^-+$/.test(cells[0])) return;
    const names = [...cells[0].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);
    rows.push({ names, defaultCell: defaultColumn >= 0 ? cells[defaultColumn] : undefined, line: i + 1 });
  });
  return rows;
}

const plain = (s: string): string => s.replace(/`/g, '').replace(/\s*\(.*\)$/, '').trim().toLowerCase();
const UNSET = new Set(['unset', 'none', '—', '-', 'off', 'unset (any)', 'one required']);

describe('configuration reference', () => {
  it('the README carries the reference generated from the declarations (npm run gen:schemas rewrites it)', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    assert.equal(readme, withConfigurationReference(readme, renderConfigurationReference()), 'README.md differs from the declarations: run `npm run gen:schemas`');
    const rows = variableRows(readme);
    const named = new Set(rows.flatMap((r) => r.names));
    for (const name of declared.keys()) assert.ok(named.has(name), `${name} is declared but missing from the README`);
  });

  it('every variable a docs/*.md or README table names is declared, with the declared default', () => {
    const files = ['README.md', ...readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
    let checked = 0;
    const wrong: string[] = [];
    for (const file of files) {
      for (const row of variableRows(readFileSync(join(repo, file), 'utf8'))) {
        for (const name of row.names) if (!declared.has(name)) wrong.push(`${file}:${row.line}: ${name} is not a declared variable`);
        if (row.names.length !== 1 || row.defaultCell === undefined || !declared.has(row.names[0])) continue;
        const f = declared.get(row.names[0])!;
        const want = documentedDefault(f);
        const got = row.defaultCell;
        if (want === 'unset' ? !(UNSET.has(plain(got)) || plain(got) === 'required') : plain(got) !== plain(want)) {
          wrong.push(`${file}:${row.line}: ${f.name}: the table says ${got}, the declaration ${want}`);
        }
        checked++;
      }
    }
    assert.deepEqual(wrong, []);
    assert.ok(checked > 50, `only ${checked} rows checked`);
  });
});
