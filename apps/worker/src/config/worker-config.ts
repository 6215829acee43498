import { z } from 'zod';
import { ConfigError, EXPLICIT_KINDS, ExplicitInvalidationPolicy, ExplicitKind, LOG_LEVELS } from '@cdc/core';
import { DEFAULT_MIN_PATTERN_PREFIX, DEFAULT_RULES_MAX_BYTES, RulesLoadOptions } from '@cdc/rules';

/**
 * Worker-level settings from the environment, validated once at boot into a typed object.
 * Each source and sink library validates its own variables (postgresSourceOptionsFromEnv,
 * redisConfigFromEnv, ...); `collectConfig` gathers every problem from all of them, so a bad
 * deployment gets one message naming every bad variable.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A comma-separated list; blanks dropped. */
const list = z.string().transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''));
const explicitKinds = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''))
  .refine((kinds) => (kinds.length === 1 && kinds[0] === 'none') || kinds.every((k) => (EXPLICIT_KINDS as readonly string[]).includes(k)), {
    message: `must be 'none' or a comma-separated list of ${EXPLICIT_KINDS.join(', ')}`,
  })
  .transform((kinds) => new Set(kinds.filter((k): k is ExplicitKind => k !== 'none')) as ReadonlySet<ExplicitKind>);

export const workerEnvSchema = z.object({
  /** Which change stream to follow. */
  SOURCE: z.enum(['postgres', 'kafka']).default('postgres'),
  /** The rules file (a ConfigMap mount in Kubernetes). */
  RULES_FILE: z.string().min(1).default('/etc/cdc-invalidator/rules.yaml'),
  /** HTTP port for /metrics, /healthz, /readyz and the admin API. */
  HTTP_PORT: int(0, 65535).default(9464),
  HTTP_HOST: z.string().default('0.0.0.0'),
  /** Most change events coalesced into one invalidation batch. */
  BATCH_MAX_EVENTS: int(1, 1_000_000).default(5000),
  /** Extra wait (ms) to grow a batch when idle; 0 sends a lone commit at once. */
  BATCH_LINGER_MS: int(0, 10_000).default(0),
  /** Publish L1 eviction messages on Redis pub/sub after L2 deletes. */
  L1_ENABLED: bool.default('true'),
  /**
   * UNLINK each key's lease (leaseKeyOf) with the key, which revokes a client-library fill
   * that read the database before the change. Off only where no reader uses the library.
   */
  REDIS_DELETE_LEASES: bool.default('true'),
  /**
   * L1 message version to publish: 2 adds stream/seq and heartbeats (what the client library
   * needs); 1 keeps version-1 subscribers working while they are migrated (docs/pubsub.md).
   */
  L1_MESSAGE_VERSION: z.enum(['1', '2']).default('2').transform((v) => (v === '1' ? 1 : 2) as 1 | 2),
  /** Version 2: a heartbeat on every L1 channel idle for this long (ms); 0 turns heartbeats off. */
  L1_HEARTBEAT_INTERVAL_MS: int(0, 3_600_000).default(1000),
  /** Deadline for a graceful stop on SIGTERM; keep below the pod's terminationGracePeriodSeconds. */
  SHUTDOWN_TIMEOUT_MS: int(1000, 600_000).default(20_000),
  /**
   * Postgres source: period of a tiny logical message that lets a slot whose tables are quiet
   * confirm past WAL written elsewhere (0 disables).
   */
  PG_HEARTBEAT_INTERVAL_MS: int(0, 3_600_000).default(60_000),
  /** How often replication-slot metrics are refreshed. */
  SLOT_METRICS_INTERVAL_MS: int(1000, 3_600_000).default(15_000),
  /**
   * Postgres source with 2+ replicas: `advisory-lock` lets exactly one replica stream (the
   * others stand by and take over when its session ends); `none` streams unconditionally.
   */
  LEADER_ELECTION: z.enum(['none', 'advisory-lock']).default('none'),
  /** Watch the rules file's directory and swap in a changed file that compiles (docs/admin-api.md, "Rules reload"). */
  RULES_RELOAD: bool.default('true'),
  /** Fallback content-hash check of the rules file (ms), for volumes where inotify misses events. */
  RULES_POLL_INTERVAL_MS: int(500, 3_600_000).default(5000),
  /** Bearer token for the admin API; the admin API is off when unset. */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** pino level, any case (`DEBUG` = `debug`). */
  LOG_LEVEL: z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(LOG_LEVELS)).default('info'),
  /** Largest rules file accepted (bytes), at start, in `validate` and on reload: compiling costs memory in proportion. */
  RULES_MAX_BYTES: int(1024, 64 * 1024 * 1024).default(DEFAULT_RULES_MAX_BYTES),
  /** Literal characters every pattern delete keeps before its first glob character (rules and explicit invalidations). */
  PATTERN_MIN_PREFIX: int(1, 1024).default(DEFAULT_MIN_PATTERN_PREFIX),
  /** What explicit invalidations (logical messages, Kafka `m` events) may carry: `keys,tags,patterns` or `none`. */
  EXPLICIT_INVALIDATION_KINDS: explicitKinds.default('keys,tags'),
  /** When set, every explicit key, tag and pattern must start with one of these (comma-separated). */
  EXPLICIT_INVALIDATION_PREFIXES: list.default(''),
  /** Most keys + tags + patterns in one explicit invalidation; a larger message is dead-lettered whole. */
  EXPLICIT_INVALIDATION_MAX_ITEMS: int(1, 1_000_000).default(1000),
  /** Most keys one pattern of a manual invalidation (POST /admin/invalidate) deletes; the answer says when it stopped there. */
  ADMIN_MAX_PATTERN_KEYS: int(1, 10_000_000).default(10_000),
});

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the worker's own variables; returns the problems instead of throwing so callers can merge them. */
export function parseWorkerEnv(env: NodeJS.ProcessEnv): { config?: WorkerEnv; problems: string[] } {
  const result = workerEnvSchema.safeParse(emptyToUndefined(env));
  if (result.success) return { config: result.data, problems: [] };
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '?');
    const value = name === 'ADMIN_TOKEN' ? '(hidden)' : JSON.stringify(env[name]);
    return `${name}=${value}: ${issue.message}`;
  });
  return { problems };
}

/** Runs every library's env parser and throws one ConfigError listing all bad variables. */
export function collectConfig<T extends Record<string, unknown>>(parsers: { [K in keyof T]: () => T[K] }): T {
  const out: Partial<T> = {};
  const problems: string[] = [];
  for (const key of Object.keys(parsers) as Array<keyof T>) {
    try {
      out[key] = parsers[key]();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.message.split('\n'));
      else throw err;
    }
  }
  if (problems.length) throw new ConfigError(`invalid environment:\n  ${problems.join('\n  ')}`);
  return out as T;
}

/** How rules files are loaded under this configuration (run, validate, explain, reload). */
export function rulesLoadOptions(worker: Pick<WorkerEnv, 'RULES_MAX_BYTES' | 'PATTERN_MIN_PREFIX'>): RulesLoadOptions {
  return { maxBytes: worker.RULES_MAX_BYTES, minPatternPrefix: worker.PATTERN_MIN_PREFIX };
}

/** The policy both sources apply to explicit invalidations (docs/explicit-invalidations.md). */
export function explicitPolicy(
  worker: Pick<WorkerEnv, 'EXPLICIT_INVALIDATION_KINDS' | 'EXPLICIT_INVALIDATION_PREFIXES' | 'EXPLICIT_INVALIDATION_MAX_ITEMS' | 'PATTERN_MIN_PREFIX'>,
): ExplicitInvalidationPolicy {
  return {
    allow: worker.EXPLICIT_INVALIDATION_KINDS,
    prefixes: worker.EXPLICIT_INVALIDATION_PREFIXES,
    maxItems: worker.EXPLICIT_INVALIDATION_MAX_ITEMS,
    minPatternPrefix: worker.PATTERN_MIN_PREFIX,
  };
}

/** The explicit-invalidation variables alone, for `explain` (a bad value is a ConfigError naming it). */
export function explicitPolicyFromEnv(env: NodeJS.ProcessEnv): ExplicitInvalidationPolicy {
  const schema = workerEnvSchema.pick({
    EXPLICIT_INVALIDATION_KINDS: true,
    EXPLICIT_INVALIDATION_PREFIXES: true,
    EXPLICIT_INVALIDATION_MAX_ITEMS: true,
    PATTERN_MIN_PREFIX: true,
  });
  const result = schema.safeParse(emptyToUndefined(env));
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${String(i.path[0])}=${JSON.stringify(env[String(i.path[0])])}: ${i.message}`).join('\n'));
  return explicitPolicy(result.data);
}

/**
 * The rules-loading variables alone, for commands that do not run the worker (validate,
 * explain): a bad value is a ConfigError naming the variable.
 */
export function rulesLoadOptionsFromEnv(env: NodeJS.ProcessEnv): RulesLoadOptions {
  const schema = workerEnvSchema.pick({ RULES_MAX_BYTES: true, PATTERN_MIN_PREFIX: true });
  const result = schema.safeParse(emptyToUndefined(env));
  if (result.success) return rulesLoadOptions(result.data);
  throw new ConfigError(result.error.issues.map((i) => `${String(i.path[0])}=${JSON.stringify(env[String(i.path[0])])}: ${i.message}`).join('\n'));
}

export function workerEnvFromEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  const { config, problems } = parseWorkerEnv(env);
  if (!config) throw new ConfigError(problems.join('\n'));
  return config;
}

function emptyToUndefined(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(workerEnvSchema.shape)) {
    const v = env[key];
    out[key] = v === undefined || v === '' ? undefined : v;
  }
  return out;
}
