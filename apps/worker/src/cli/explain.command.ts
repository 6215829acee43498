import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, parseExplicitInvalidation } from '@cdc/core';
import { ExplainResult, explain, loadRulesFile, parseEventJson } from '@cdc/rules';
import { explicitPolicyFromEnv, rulesLoadOptionsFromEnv } from '../config/worker-config';

/** `explain <rules> --event <json|@file>`: prints the actions a change would produce, touching nothing. */
export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('Print the invalidations a change event would produce, without touching anything')
    .argument('<rules>', 'path to the rules YAML file')
    .requiredOption('--event <json>', 'the event as JSON, or @path/to/event.json; e.g. {"op":"update","table":"public.products","before":{...},"after":{...}}')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { event: string; json?: boolean }) => {
      const rules = loadRulesFile(file, rulesLoadOptionsFromEnv(process.env));
      const text = opts.event.startsWith('@') ? readFileSync(opts.event.slice(1), 'utf8') : opts.event;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ConfigError(`--event is not valid JSON: ${(err as Error).message}`);
      }
      const event = parseEventJson(json);
      // An explicit message is judged by this environment's policy first, as the sources judge it.
      if (event.op === 'message' && event.explicit) {
        const verdict = parseExplicitInvalidation(event.explicit, explicitPolicyFromEnv(process.env), 'explain');
        if (!verdict.ok) {
          const refused = { event: { op: event.op, table: '' }, refused: { refusal: verdict.refusal, reason: verdict.reason }, rules: [], matches: [] };
          process.stdout.write(
            opts.json ? JSON.stringify(refused, null, 2) + '\n' : `event: message\n  refused (${verdict.refusal}): ${verdict.reason}; the source dead-letters it\ntotal: 0 keys, 0 tags, 0 patterns, 0 CDN purges\n`,
          );
          return;
        }
      }
      const result = explain(rules, event);
      process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : renderExplain(result) + '\n');
    });
}

/** Human-readable: one block per rule (fired or why not), then the coalesced totals. */
function renderExplain(result: ExplainResult): string {
  const out: string[] = [`event: ${result.event.op} on ${result.event.table}`];
  for (const r of result.rules) {
    if (!r.matched) {
      out.push(`  rule ${r.rule}: skipped (${r.skipped}${r.detail ? `: ${r.detail}` : ''})`);
      continue;
    }
    out.push(`  rule ${r.rule}: fires`);
    const m = r.match;
    if (!m) continue;
    const list = (label: string, items: readonly string[]) => {
      if (items.length) out.push(`    ${label.padEnd(9)} ${items.join('  ')}`);
    };
    list('keys', m.keys);
    list('tags', m.tags);
    list('patterns', m.patterns);
    list('channels', m.channels);
    list('cdn', m.cdn.map((p) => `${p.provider}:${p.target}:${p.kind}=${p.value}`));
    for (const miss of m.missing) out.push(`    missing   ${miss.template} (${miss.column}: ${miss.reason})`);
  }
  const keys = new Set(result.matches.flatMap((m) => m.keys));
  const tags = new Set(result.matches.flatMap((m) => m.tags));
  const patterns = new Set(result.matches.flatMap((m) => m.patterns));
  const cdn = result.matches.reduce((n, m) => n + m.cdn.length, 0);
  out.push(`total: ${keys.size} keys, ${tags.size} tags, ${patterns.size} patterns, ${cdn} CDN purges`);
  return out.join('\n');
}
