/**
 * Test helper, run as a child process by advisory-lock-elector.int.spec.ts: an elector
 * that prints its transitions on stdout (`STANDBY`, `LEADER`, `DEMOTED <reason>`) and
 * holds on until killed, so a test can kill -9 a real leader process.
 *   LOCK_PG_URL=postgres://... LOCK_NAME=... node lock-holder.test-helper.js
 */
import { AdvisoryLockElector } from './advisory-lock-elector';

async function main(): Promise<void> {
  const elector = new AdvisoryLockElector({
    connectionString: process.env.LOCK_PG_URL ?? '',
    lockKey: process.env.LOCK_NAME ?? 'fixture',
    retryIntervalMs: 200,
  });
  await elector.start(
    async () => void process.stdout.write('LEADER\n'),
    async (reason) => void process.stdout.write(`DEMOTED ${reason}\n`),
  );
  if (elector.role === 'standby') process.stdout.write('STANDBY\n');
  const keepAlive = setInterval(() => undefined, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(keepAlive);
    void elector.stop();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
