import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { PostgresServer, PostgresServerOptions, RedisServer } from '@cdc/testing';

/** A throwaway Postgres (logical WAL) + Redis + a temp dir holding the rules file, for e2e tests. */
export interface TestStack {
  readonly pg: PostgresServer;
  readonly redis: RedisServer;
  /** A client that rides out Redis restarts (tests restart it on purpose). */
  readonly r: Redis;
  readonly dir: string;
  readonly rulesFile: string;
  /** Environment for a WorkerProcess on this stack; `slot` names the slot and the publication. */
  workerEnv(slot: string, extra?: Record<string, string>): Record<string, string>;
  destroy(): Promise<void>;
}

export async function startStack(
  name: string,
  rules: string,
  opts: { setupSql?: string; redisArgs?: string[]; postgres?: PostgresServerOptions } = {},
): Promise<TestStack> {
  const pg = await PostgresServer.start(opts.postgres);
  const redis = await RedisServer.start(opts.redisArgs ?? []);
  const r = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: null });
  r.on('error', () => undefined);
  const dir = mkdtempSync(join(tmpdir(), `cdc-${name}-`));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, rules);
  if (opts.setupSql) await pg.query(opts.setupSql);
  return {
    pg,
    redis,
    r,
    dir,
    rulesFile,
    workerEnv: (slot, extra = {}) => ({
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      RULES_FILE: rulesFile,
      PG_SLOT: slot,
      PG_PUBLICATION: slot,
      ...extra,
    }),
    async destroy() {
      r.disconnect();
      await redis.destroy();
      await pg.destroy();
    },
  };
}
