import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ConfigError } from '@cdc/core';
import { explain, loadRulesFile, parseEventJson } from '@cdc/rules';

/** `explain <rules> --event <json|@file>`: prints the actions a change would produce, touching nothing. */
export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('Print the invalidations a change event would produce, without touching anything')
    .argument('<rules>', 'path to the rules YAML file')
    .requiredOption('--event <json>', 'the event as JSON, or @path/to/event.json; e.g. {"op":"update","table":"public.products","before":{...},"after":{...}}')
    .option('--json', 'machine-readable output')
    .action((file: string, opts: { event: string; json?: boolean }) => {
      const rules = loadRulesFile(file);
      const text = opts.event.startsWith('@') ? readFileSync(opts.event.slice(1), 'utf8') : opts.event;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ConfigError(`--event is not valid JSON: ${(err as Error).message}`);
      }
      const event = parseEventJson(json);
      const result = explain(rules, event);
      process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : renderExplain(result) + '\n');
    });
}

type ExplainOutput = ReturnType<typeof explain>;

function renderExplain(result: ExplainOutput): string {
  return JSON.stringify(result, null, 2);
}
