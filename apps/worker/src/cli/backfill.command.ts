import { Command, InvalidArgumentError } from 'commander';
import type Redis from 'ioredis';
import { BackfillSummary, RedisCursorStore, createProgressRenderer, parseTableName, runBackfill } from '@cdc/backfill';
import { ConfigError, childLogger } from '@cdc/core';
import { connectRedis } from '@cdc/sink-redis';
import { loadWorkerSettings } from '../config/worker-settings';
import { postgresSourcePlugin } from '../sources/postgres.plugin';
import { ACTION_KINDS, ActionCounts, ActionTally, ApplyStats, openCliSinks, renderActions } from './apply-sinks';

interface BackfillPostgresFlags {
  table: string;
  where?: string;
  batchSize: number;
  rate?: number;
  dryRun?: boolean;
  fresh?: boolean;
  rules?: string;
  progressInterval: number;
  json?: boolean;
}

/**
 * `backfill postgres --table <schema.table>`: reads the table page by page (keyset order) and
 * feeds every row as a snapshot event through the rules and the same sinks as `run`. The
 * cursor lives in Redis after every applied page, so a killed backfill rerun with the same
 * table and --where resumes after the last applied page. SIGINT/SIGTERM stop between pages.
 */
export function registerBackfill(program: Command): void {
  const backfill = program.command('backfill').description('Invalidate from what a table holds now (after a new rule, a cache restore, a recreated slot)');
  backfill
    .command('postgres')
    .description('Read a Postgres table in key order and invalidate what the rules name for every row (resumable)')
    .requiredOption('--table <schema.table>', 'the table to read')
    .option('--where <sql>', 'only rows matching this SQL condition (trusted operator input, see docs/backfill.md)')
    .option('--batch-size <n>', 'rows per page', positiveNumber(true), 1000)
    .option('--rate <rows/s>', 'throttle to this many rows per second', positiveNumber(false))
    .option('--dry-run', 'evaluate the rules and print what would be invalidated; touch nothing, keep the cursor')
    .option('--fresh', 'ignore a saved cursor and start from the first row')
    .option('--rules <file>', 'rules file (overrides $RULES_FILE)')
    .option('--progress-interval <ms>', 'without a terminal: at most one progress log line per this many ms', positiveNumber(true), 10_000)
    .option('--json', 'print the summary as one JSON line')
    .addHelpText(
      'after',
      '\nEnvironment: DATABASE_URL, REDIS_* (sinks and the resume cursor), RULES_FILE, CDN settings as for `run`.\n' +
        'Rules fire on backfilled rows as op "snapshot" (included when a rule has no `on:`).\n' +
        "Example:\n  cdc-invalidator backfill postgres --table public.products --where \"updated_at > now() - interval '1 day'\" --rate 2000",
    )
    .action(async (flags: BackfillPostgresFlags) => {
      const env = { ...process.env };
      if (flags.rules) env.RULES_FILE = flags.rules;
      const settings = loadWorkerSettings(env, { source: postgresSourcePlugin });
      const rules = settings.rules;
      const table = parseTableName(flags.table);
      const qualified = `${table.schema}.${table.table}`;
      if (!rules.appliesTo(table.schema, table.table)) {
        throw new ConfigError(`no rule in ${rules.file} names ${qualified}: a backfill of it would invalidate nothing`, 'BACKFILL_NO_RULE');
      }
      const dryRun = flags.dryRun ?? false;
      const out = await openCliSinks({ settings, dryRun, sourceName: 'backfill' });
      const redis = out.redis;
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        // The cursor store needs Redis even in a dry run (it starts from a saved cursor, like the real run would).
        await connectRedis(redis);
        const tally = new ActionTally();
        const progress = createProgressRenderer({ label: qualified, intervalMs: flags.progressInterval, logger: childLogger('backfill') });
        let summary: BackfillSummary;
        try {
          summary = await runBackfill({
            connectionString: settings.source.config.options.connectionString,
            table: flags.table,
            where: flags.where,
            batchSize: flags.batchSize,
            ratePerSec: flags.rate,
            dryRun,
            fresh: flags.fresh,
            // RedisCursorStore only uses GET/SET/DEL, which a Cluster client offers with the same signatures.
            cursorStore: new RedisCursorStore(redis as Redis),
            handle: async (events) => tally.add(await out.applier.apply(events)),
            onProgress: (p) => progress.update(p),
            signal: stop.signal,
          });
        } finally {
          progress.finish();
        }
        const actions = tally.snapshot();
        const stats = out.applier.stats;
        process.stdout.write(
          flags.json
            ? JSON.stringify({ command: 'backfill postgres', dryRun, where: flags.where ?? null, ...summary, actions, applied: stats }) + '\n'
            : renderBackfillSummary(summary, actions, stats, dryRun),
        );
        if (!summary.completed || stats.rejections.length > 0 || stats.ruleErrors > 0) process.exitCode = 1;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
        await out.close();
      }
    });
}

function positiveNumber(integer: boolean): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`expected a positive ${integer ? 'integer' : 'number'}`);
    return n;
  };
}

export function renderBackfillSummary(s: BackfillSummary, actions: ActionCounts, stats: ApplyStats, dryRun: boolean): string {
  const state = s.completed ? 'completed' : 'stopped before the end (rerun the same command to resume)';
  const lines = [
    `backfill postgres ${s.table}${dryRun ? ' (dry run)' : ''}: ${s.rows} rows in ${s.pages} pages, ${s.seconds.toFixed(1)} s, ${state}`,
  ];
  if (s.resumedFrom) lines.push(`  resumed after key ${JSON.stringify(s.resumedFrom)}`);
  if (s.throttle.waits > 0) lines.push(`  throttled ${s.throttle.waits} times, ${(s.throttle.waitedMs / 1000).toFixed(1)} s in total`);
  lines.push(...renderActions(actions, dryRun));
  if (s.rows > 0 && ACTION_KINDS.every((k) => actions[k].count === 0)) {
    lines.push('  no rule fired: do the rules for this table include `snapshot` in `on:`?');
  }
  if (stats.ruleErrors) lines.push(`  ${stats.ruleErrors} row(s) failed in the rules (see the error log lines)`);
  for (const r of stats.rejections) lines.push(`  REJECTED by ${r.sink} at ${r.position}: ${r.reason}`);
  if (stats.deadLettered) lines.push(`  ${stats.deadLettered} failure(s) dead-lettered to cdc:dead-letter (see \`cdc-invalidator dead-letters list\`)`);
  lines.push(dryRun ? 'dry run: nothing was invalidated and the cursor was not moved' : `applied in ${stats.batches} batch(es)`);
  return lines.join('\n') + '\n';
}
