import { Command, InvalidArgumentError } from 'commander';
import { DeadLetter, DeadLetterSink, errorMessage, redactUrl } from '@cdc/core';
import { BatchApplier } from '@cdc/pipeline';
import { CompiledRules } from '@cdc/rules';
import {
  DEFAULT_DEAD_LETTER_STREAM,
  RedisClient,
  StoredDeadLetter,
  connectRedis,
  createRedisClient,
  deleteDeadLetters,
  getDeadLetters,
  listDeadLetters,
  readDeadLetters,
  redisConfigFromEnv,
} from '@cdc/sink-redis';
import { loadWorkerSettings } from '../config/worker-settings';
import { CliSinks, openCliSinks } from './apply-sinks';
import { RedrivePlan, describePayload, planRedrive } from './dead-letter-redrive';

interface CommonFlags {
  redisUrl?: string;
  stream: string;
  json?: boolean;
}

/**
 * `dead-letters list|redrive`: the Redis stream `cdc:dead-letter`, where the worker (Postgres
 * source), `replay`, `backfill` and the admin API record what they could not apply: a rule that
 * failed on an event, actions or a batch a sink rejected for good. `redrive` re-applies them
 * through the same BatchApplier as `run` and removes the entries that were applied.
 * (CDN purges the purge worker gave up on are in `cdn-dead-letters`.)
 */
export function registerDeadLetters(program: Command): void {
  const cmd = program
    .command('dead-letters')
    .description('List or re-apply what the worker dead-lettered (failed rules, rejected actions) in the Redis stream cdc:dead-letter');

  cmd
    .command('list')
    .description('Print dead letters oldest first: id, time, source, position, reason and a payload summary')
    .option('--redis-url <url>', 'Redis URL (default: $REDIS_URL / REDIS_* as for `run`)')
    .option('--stream <key>', 'dead-letter stream', DEFAULT_DEAD_LETTER_STREAM)
    .option('--count <n>', 'at most this many', positiveInt, 100)
    .option('--after <id>', 'start after this entry id (paging)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  cdc-invalidator dead-letters list --count 20\n  cdc-invalidator dead-letters list --after 1733050000000-0 --json')
    .action(async (opts: CommonFlags & { count: number; after?: string }) => {
      await withRedis(opts, async (redis) => {
        const letters = await readDeadLetters(redis, { stream: opts.stream, count: opts.count, after: opts.after });
        const total = await redis.xlen(opts.stream);
        if (opts.json) {
          process.stdout.write(JSON.stringify({ total, letters }, null, 2) + '\n');
          return;
        }
        for (const l of letters) {
          process.stdout.write(`${l.id}  ${l.at}  source=${l.source}  position=${l.position}\n    reason:  ${l.reason}\n    payload: ${describePayload(l)}\n`);
        }
        process.stdout.write(`${letters.length} of ${total} dead letter(s)${letters.length < total && letters.length > 0 ? ` (next page: --after ${letters[letters.length - 1].id})` : ''}\n`);
      });
    });

  cmd
    .command('redrive')
    .description('Re-apply dead letters (by id, or --all) through the current rules and sinks; remove the entries that were applied')
    .argument('[ids...]', 'entry ids (from `list`)')
    .option('--all', 'every entry in the stream when the command starts, oldest first')
    .option('--count <n>', 'with --all: at most this many entries', positiveInt)
    .option('--dry-run', 'print what each entry would re-apply; touch nothing')
    .option('--rules <file>', 'rules file (overrides $RULES_FILE): event entries run through these rules')
    .option('--redis-url <url>', 'Redis URL (default: $REDIS_URL / REDIS_* as for `run`)')
    .option('--stream <key>', 'dead-letter stream', DEFAULT_DEAD_LETTER_STREAM)
    .option('--json', 'print the summary as one JSON line')
    .addHelpText(
      'after',
      '\nAn entry holding an event is run through the current rules again (only the rule that failed, if it still\n' +
        'exists); an entry holding actions re-applies them (Redis L2, then L1 pub/sub, then the CDN outbox).\n' +
        'An entry that fails again, or cannot be re-applied, is kept and reported; the exit code is then 1.\n' +
        'Environment: REDIS_*, RULES_FILE, L1 and CDN settings as for `run`.\n' +
        'Examples:\n  cdc-invalidator dead-letters redrive --all --dry-run\n  cdc-invalidator dead-letters redrive 1733050000000-0 1733050000001-0',
    )
    .action(async (ids: string[], opts: CommonFlags & { all?: boolean; count?: number; dryRun?: boolean; rules?: string }) => {
      if (!opts.all && ids.length === 0) {
        process.stderr.write('give entry ids (from `dead-letters list`) or --all\n');
        process.exitCode = 2;
        return;
      }
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
      if (opts.rules) env.RULES_FILE = opts.rules;
      const settings = loadWorkerSettings(env, { needsSource: false });
      const rules = settings.rules;
      const dryRun = opts.dryRun ?? false;
      const out = await openCliSinks({ settings, dryRun, sourceName: 'redrive' });
      try {
        await connectRedis(out.redis);
        const summary = await redrive(out, rules, { ids: opts.all ? 'all' : ids, stream: opts.stream, count: opts.count, dryRun }, (line) => {
          if (!opts.json) process.stdout.write(line + '\n');
        });
        process.stdout.write(
          opts.json
            ? JSON.stringify({ command: 'dead-letters redrive', dryRun, ...summary }) + '\n'
            : `${dryRun ? 'dry run: would re-apply' : 're-applied and removed'} ${summary.redriven} dead letter(s); ${summary.kept.length} kept${summary.missing.length ? `; not found: ${summary.missing.join(', ')}` : ''}\n`,
        );
        if (summary.kept.length > 0 || summary.missing.length > 0) process.exitCode = 1;
      } catch (err) {
        throw new Error(`dead-letters redrive (${redactUrl(env.REDIS_URL ?? 'redis')}): ${errorMessage(err)}`);
      } finally {
        await out.close();
      }
    });
}

export interface RedriveSummary {
  readonly redriven: number;
  readonly kept: Array<{ readonly id: string; readonly reason: string }>;
  readonly missing: string[];
}

/** Collects the failures of one re-applied entry instead of writing new entries: a failing entry is simply kept. */
class FailureCollector implements DeadLetterSink {
  letters: DeadLetter[] = [];
  async publish(letters: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
  }
}

const PAGE = 100;

/** Redrives entries one at a time (bounded memory); an entry is removed only after it was applied without failure. */
export async function redrive(
  out: CliSinks,
  rules: CompiledRules,
  options: { readonly ids: readonly string[] | 'all'; readonly stream: string; readonly count?: number; readonly dryRun: boolean },
  print: (line: string) => void,
): Promise<RedriveSummary> {
  const { stream, dryRun } = options;
  const redis = out.redis;
  const failures = new FailureCollector();
  const applier = dryRun ? undefined : new BatchApplier({ sinks: out.sinks, deadLetters: failures, sourceName: 'redrive', maxAttempts: 20, logName: 'redrive' });
  const hasCdn = out.sinks.some((s) => s.name === 'cdn-outbox');
  const summary = { redriven: 0, kept: [] as Array<{ id: string; reason: string }>, missing: [] as string[] };

  const handle = async (letter: StoredDeadLetter): Promise<void> => {
    let plan: RedrivePlan = planRedrive(letter, rules);
    if (plan.kind === 'apply' && plan.batch.cdnCount > 0 && !dryRun && !hasCdn) {
      plan = { kind: 'skip', reason: 'it holds CDN purges and no CDN outbox is configured here (CLOUDFLARE_ZONES / CLOUDFRONT_DISTRIBUTIONS, rules naming a CDN)' };
    }
    if (plan.kind === 'skip') {
      summary.kept.push({ id: letter.id, reason: plan.reason });
      print(`${letter.id}  kept: ${plan.reason}`);
      return;
    }
    if (!applier) {
      summary.redriven++;
      print(`${letter.id}  would re-apply ${plan.summary}${plan.letters.length ? ` (and fail again: ${plan.letters[0].reason})` : ''}`);
      return;
    }
    failures.letters = [];
    const outcome = await applier.apply(plan.batch, plan.letters);
    if (outcome.status !== 'applied') throw new Error('aborted');
    if (failures.letters.length > 0) {
      const reason = `failed again: ${failures.letters.map((l) => l.reason).join('; ')}`;
      summary.kept.push({ id: letter.id, reason });
      print(`${letter.id}  kept, ${reason}`);
      return;
    }
    await deleteDeadLetters(redis, [letter.id], stream);
    summary.redriven++;
    print(`${letter.id}  re-applied ${plan.summary}; removed`);
  };

  if (options.ids !== 'all') {
    const found = await getDeadLetters(redis, options.ids, stream);
    const foundIds = new Set(found.map((l) => l.id));
    summary.missing.push(...options.ids.filter((id) => !foundIds.has(id)));
    for (const letter of found) await handle(letter);
    return summary;
  }
  // --all: the entries present when the command starts (new ones written meanwhile wait for the next run).
  const [newest] = await listDeadLetters(redis, stream, 1);
  if (!newest) return summary;
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  let after: string | undefined;
  let seen = 0;
  for (;;) {
    const page = await readDeadLetters(redis, { stream, count: PAGE, after });
    for (const letter of page) {
      if (seen >= limit || compareIds(letter.id, newest.id) > 0) return summary;
      seen++;
      await handle(letter);
    }
    if (page.length < PAGE) return summary;
    after = page[page.length - 1].id;
  }
}

/** Orders stream ids `<ms>-<seq>`. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

async function withRedis(opts: CommonFlags, fn: (redis: RedisClient) => Promise<void>): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
  const redis = createRedisClient(redisConfigFromEnv(env));
  try {
    await connectRedis(redis);
    await fn(redis);
  } catch (err) {
    throw new Error(`dead-letters (${redactUrl(env.REDIS_URL ?? 'redis')}): ${errorMessage(err)}`);
  } finally {
    redis.disconnect();
  }
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
