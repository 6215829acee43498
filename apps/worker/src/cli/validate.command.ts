import { Command } from 'commander';
import { LocatedProblem, RulesError, formatProblem } from '@cdc/core';
import { loadRulesFile } from '@cdc/rules';
import { checkRulesAgainstDatabase } from '@cdc/source-postgres';

/**
 * `validate <rules>`: checks the file (syntax, schema, templates) and, with a database URL,
 * that tables and columns exist and that the old values update/delete rules need are logged
 * (replica identity). Exit 0 when valid (warnings allowed), 1 when not.
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a rules file; with --database-url also check tables, columns and replica identity')
    .argument('<rules>', 'path to the rules YAML file')
    .option('--database-url <url>', 'Postgres connection string to check against (default: $DATABASE_URL when --db is given)')
    .option('--db', 'check against $DATABASE_URL')
    .option('--json', 'print problems as JSON')
    .action(async (file: string, opts: { databaseUrl?: string; db?: boolean; json?: boolean }) => {
      const problems: LocatedProblem[] = [];
      let rulesCount = 0;
      try {
        const rules = loadRulesFile(file);
        rulesCount = rules.rules.length;
        problems.push(...rules.warnings);
        const url = opts.databaseUrl ?? (opts.db ? process.env.DATABASE_URL : undefined);
        if (url) problems.push(...(await checkRulesAgainstDatabase(rules, url)));
      } catch (err) {
        if (!(err instanceof RulesError)) throw err;
        problems.push(...err.problems);
      }
      const errors = problems.filter((p) => p.severity === 'error');
      if (opts.json) {
        process.stdout.write(JSON.stringify({ valid: errors.length === 0, problems }, null, 2) + '\n');
      } else {
        for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
        process.stdout.write(
          errors.length === 0
            ? `${file}: ok (${rulesCount} rules, ${problems.length} warnings)\n`
            : `${file}: ${errors.length} error(s), ${problems.length - errors.length} warning(s)\n`,
        );
      }
      process.exitCode = errors.length === 0 ? 0 : 1;
    });
}
