/**
 * A purge worker as its own process, for the kill -9 durability test: configuration from
 * the environment (cdnConfigFromEnv + REDIS_URL), prints `ready` once started, stops
 * gracefully on SIGTERM. Killed with SIGKILL it gets no chance to clean up, which is the point.
 */
import Redis from 'ioredis';
import { childLogger } from '@cdc/core';
import { cdnConfigFromEnv } from './cdn-config';
import { createCdnComponents } from './create-cdn-components';

async function main(): Promise<void> {
  const config = cdnConfigFromEnv(process.env);
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const { purgeWorker } = createCdnComponents({ config, redis, logger: childLogger('cdn-worker-runner') });
  await purgeWorker.start();
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void purgeWorker.stop().finally(() => {
      redis.disconnect();
      process.exit(0);
    });
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`purge worker runner failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
