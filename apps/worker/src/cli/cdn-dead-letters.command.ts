import { Command } from 'commander';
import Redis from 'ioredis';
import { redactUrl } from '@cdc/core';
import { cdnConfigFromEnv, listCdnDeadLetters, redriveCdnDeadLetters } from '@cdc/sink-cdn';

/**
 * `cdn-dead-letters list|redrive`: inspect and re-drive CDN purges the purge worker gave up
 * on. Stream names come from the same environment as the worker (CDN_OUTBOX_STREAM,
 * CDN_DEAD_LETTER_STREAM); Redis from --redis-url or $REDIS_URL.
 */
export function registerCdnDeadLetters(program: Command): void {
  const cmd = program.command('cdn-dead-letters').description('List or re-drive CDN purges that went to the dead-letter stream');

  cmd
    .command('list')
    .description('Print dead-lettered purges, oldest first')
    .option('--redis-url <url>', 'Redis URL (default: $REDIS_URL)')
    .option('--count <n>', 'at most this many', '100')
    .option('--after <id>', 'start after this dead-letter id')
    .option('--json', 'print JSON')
    .action(async (opts: { redisUrl?: string; count: string; after?: string; json?: boolean }) => {
      await withRedis(opts.redisUrl, async (redis) => {
        const letters = await listCdnDeadLetters(redis, cdnConfigFromEnv(process.env), { count: Number(opts.count), after: opts.after });
        if (opts.json) {
          process.stdout.write(JSON.stringify(letters, null, 2) + '\n');
          return;
        }
        for (const l of letters) {
          process.stdout.write(`${l.id}  ${l.provider}/${l.target}  ${l.purges.length} purge(s)  attempts=${l.attempts}  failed=${l.failedAt}\n    ${l.error}\n`);
        }
        process.stdout.write(`${letters.length} dead letter(s)\n`);
      });
    });

  cmd
    .command('redrive')
    .description('Move dead letters back into the outbox (by id, or --all)')
    .argument('[ids...]', 'dead-letter ids (from `list`)')
    .option('--all', 're-drive every dead letter')
    .option('--redis-url <url>', 'Redis URL (default: $REDIS_URL)')
    .action(async (ids: string[], opts: { all?: boolean; redisUrl?: string }) => {
      if (!opts.all && ids.length === 0) {
        process.stderr.write('give dead-letter ids or --all\n');
        process.exitCode = 2;
        return;
      }
      await withRedis(opts.redisUrl, async (redis) => {
        const res = await redriveCdnDeadLetters(redis, cdnConfigFromEnv(process.env), opts.all ? 'all' : ids);
        process.stdout.write(`re-drove ${res.redriven} dead letter(s)${res.missing.length ? `; not found: ${res.missing.join(', ')}` : ''}\n`);
        if (res.missing.length > 0) process.exitCode = 1;
      });
    });
}

async function withRedis(url: string | undefined, fn: (redis: Redis) => Promise<void>): Promise<void> {
  const target = url ?? process.env.REDIS_URL;
  if (!target) throw new Error('no Redis: pass --redis-url or set REDIS_URL');
  const redis = new Redis(target, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    await fn(redis);
  } catch (err) {
    throw new Error(`cdn-dead-letters (${redactUrl(target)}): ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    redis.disconnect();
  }
}
