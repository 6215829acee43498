/**
 * Test helper, run as a child process by run-backfill.int.spec.ts so a test can kill -9
 * a real backfill mid-way. Prints `PAGE [ids...]` when a page is handed to it (before
 * the cursor moves past it), then takes BF_PAGE_DELAY_MS to "apply" it, and `DONE`.
 *   BF_PG_URL=... BF_REDIS_URL=... BF_TABLE=public.items BF_BATCH=200 node backfill-runner.test-helper.js
 */
import Redis from 'ioredis';
import { RedisCursorStore } from './redis-cursor-store';
import { runBackfill } from './run-backfill';

async function main(): Promise<void> {
  const redis = new Redis(process.env.BF_REDIS_URL ?? '');
  const delayMs = Number(process.env.BF_PAGE_DELAY_MS ?? 50);
  try {
    await runBackfill({
      connectionString: process.env.BF_PG_URL ?? '',
      table: process.env.BF_TABLE ?? '',
      batchSize: Number(process.env.BF_BATCH ?? 200),
      cursorStore: new RedisCursorStore(redis),
      handle: async (events) => {
        process.stdout.write(`PAGE ${JSON.stringify(events.map((e) => e.after?.id))}\n`);
        await new Promise((r) => setTimeout(r, delayMs));
      },
    });
    process.stdout.write('DONE\n');
  } finally {
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
