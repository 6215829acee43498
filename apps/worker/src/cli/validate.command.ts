import { Command } from 'commander';
import { ConfigError, LocatedProblem, RulesError, formatProblem } from '@cdc/core';
import { loadRulesFile } from '@cdc/rules';
import { checkPostgresUrl, checkRulesAgainstDatabase, postgresSourceOptionsFromEnv } from '@cdc/source-postgres';
import { CompiledRules } from '@cdc/rules';
import { cdnConfigFromEnv, checkAliases } from '@cdc/sink-cdn';
import { ruleCdnAliases } from '../sinks/cdn.plugin';
import { rulesLoadOptionsFromEnv } from '../config/worker-config';

/**
 * `validate <rules>`: checks the file (syntax, schema, templates) and, with a database URL,
 * that tables and columns exist, that the old values update/delete rules need are logged, and
 * that no table without replica identity would be published for update/delete (it would break
 * the application's UPDATE and DELETE). Exit 0 when valid (warnings allowed), 1 when not.
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
      const loadOptions = rulesLoadOptionsFromEnv(process.env);
      const url = opts.databaseUrl ?? (opts.db ? process.env.DATABASE_URL : undefined);
      const urlProblem = url === undefined ? undefined : checkPostgresUrl(url);
      if (urlProblem) throw new ConfigError(`${opts.databaseUrl !== undefined ? '--database-url' : 'DATABASE_URL'} ${urlProblem}`);
      try {
        const rules = loadRulesFile(file, loadOptions);
        rulesCount = rules.rules.length;
        problems.push(...rules.warnings);
        if (url) problems.push(...(await checkRulesAgainstDatabase(rules, url, databaseCheckOptions(process.env))));
        problems.push(...checkCdnAliases(rules, file));
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

/** The publication and insert-only tables `run` would use, from the same variables. */
function databaseCheckOptions(env: NodeJS.ProcessEnv): { publicationName?: string; insertOnlyTables?: readonly string[] } {
  try {
    const o = postgresSourceOptionsFromEnv({ ...env, DATABASE_URL: env.DATABASE_URL || 'postgres://validate' });
    return { publicationName: o.publicationName, insertOnlyTables: o.insertOnlyTables };
  } catch {
    return {}; // a bad PG_* variable is reported by `run`; validate checks the rules with the defaults
  }
}

/**
 * Every CDN alias a rule uses must be configured (CLOUDFLARE_ZONES, CLOUDFRONT_DISTRIBUTIONS).
 * Checked against this environment: an error when CDN configuration is present and lacks an
 * alias, a warning when no CDN configuration is present at all (validating on a laptop).
 */
function checkCdnAliases(rules: CompiledRules, file: string): LocatedProblem[] {
  const aliases = ruleCdnAliases(rules);
  if (aliases.length === 0) return [];
  const configured = ['CLOUDFLARE_ZONES', 'CLOUDFRONT_DISTRIBUTIONS'].some((v) => process.env[v]);
  const at = { file, line: 1, column: 1 };
  if (!configured) {
    return [{ ...at, severity: 'warning', message: `rules use CDN aliases (${aliases.map((a) => `${a.provider}:${a.target}`).join(', ')}); set CLOUDFLARE_ZONES / CLOUDFRONT_DISTRIBUTIONS to check them` }];
  }
  try {
    return checkAliases(aliases, cdnConfigFromEnv(process.env)).map((message) => ({ ...at, severity: 'error' as const, message }));
  } catch (err) {
    return [{ ...at, severity: 'error', message: (err as Error).message }];
  }
}
