import { ConfigOf, EXPLICIT_KINDS, Env, ExplicitInvalidationPolicy, ExplicitKind, FieldError, LOG_LEVELS, defineConfig, field, parseConfig } from '@cdc/core';
import { DEFAULT_MIN_PATTERN_PREFIX, DEFAULT_RULES_MAX_BYTES, RulesLoadOptions } from '@cdc/rules';

/**
 * The worker's own variables (HTTP, batching, rules, explicit invalidations, admin API),
 * declared once and read by the shared reader in @cdc/core. Each source and sink plugin
 * declares its own (sources/*.plugin.ts, sinks/*.plugin.ts); `loadWorkerSettings` in
 * worker-settings.ts reads them all and names every bad variable in one message.
 */
export const WORKER_FIELDS = {
  RULES_FILE: field.text({ name: 'RULES_FILE', description: 'rules file; hot-reloaded (the directory is watched, so ConfigMap symlink swaps work)', default: '/etc/cdc-invalidator/rules.yaml' }),
  HTTP_PORT: field.port({ name: 'HTTP_PORT', description: '`/metrics`, `/healthz`, `/readyz`, admin API', default: 9464 }),
  HTTP_HOST: field.text({ name: 'HTTP_HOST', description: 'address the HTTP server binds', default: '0.0.0.0' }),
  BATCH_MAX_EVENTS: field.integer({ name: 'BATCH_MAX_EVENTS', description: 'most change events coalesced into one invalidation batch', default: 5000, min: 1, max: 1_000_000 }),
  BATCH_LINGER_MS: field.integer({
    name: 'BATCH_LINGER_MS',
    description: 'extra wait to grow a batch when idle; 0 sends a lone commit at once (batches form naturally under load)',
    default: 0,
    min: 0,
    max: 10_000,
  }),
  REDIS_DELETE_LEASES: field.boolean({
    name: 'REDIS_DELETE_LEASES',
    description:
      "also delete each key's protocol-1 lease key (`cdc:lease:…`) in the same command as the key: needed only while readers on cache-client 0.1 run (a rolling upgrade); from 0.2 the lease lives in the value key and the plain `UNLINK` revokes it ([docs/client.md](docs/client.md#upgrading-from-cache-client-01))",
    default: false,
  }),
  SHUTDOWN_TIMEOUT_MS: field.integer({
    name: 'SHUTDOWN_TIMEOUT_MS',
    description: "graceful stop deadline on SIGTERM (finish the batch in flight, ack, exit 0); exit 1 if it overruns by 5 s; keep below the pod's terminationGracePeriodSeconds",
    default: 20_000,
    min: 1000,
    max: 600_000,
  }),
  RULES_RELOAD: field.boolean({ name: 'RULES_RELOAD', description: "watch the rules file's directory and swap in a changed file that compiles ([docs/admin-api.md](docs/admin-api.md))", default: true }),
  RULES_POLL_INTERVAL_MS: field.integer({ name: 'RULES_POLL_INTERVAL_MS', description: 'fallback content-hash check of the rules file, for volumes where inotify misses events', default: 5000, min: 500, max: 3_600_000 }),
  ADMIN_TOKEN: field.text({
    name: 'ADMIN_TOKEN',
    description: 'Bearer token for `/admin/*` (16+ characters, no whitespace); the admin API is off when unset',
    secret: true,
    minLength: 16,
    whitespace: false,
  }),
  LOG_LEVEL: field.oneOf(LOG_LEVELS, {
    name: 'LOG_LEVEL',
    description: 'JSON logs on stdout, any case; another value is a configuration error',
    default: 'info',
  }),
  RULES_MAX_BYTES: field.integer({
    name: 'RULES_MAX_BYTES',
    description:
      'largest rules file accepted (at start, by `validate`, on reload); a larger one is refused before it is read and the rules in effect stay. Compiling costs up to ~100 bytes of heap per byte of rules, so keep it well below the heap',
    default: DEFAULT_RULES_MAX_BYTES,
    min: 1024,
    max: 64 * 1024 * 1024,
  }),
  PATTERN_MIN_PREFIX: field.integer({
    name: 'PATTERN_MIN_PREFIX',
    description: 'literal characters every pattern delete keeps before its first glob character, in rules and explicit invalidations ([docs/rules.md](docs/rules.md#the-floor-under-every-wide-delete))',
    default: DEFAULT_MIN_PATTERN_PREFIX,
    min: 1,
    max: 1024,
  }),
  EXPLICIT_INVALIDATION_KINDS: field.custom({
    name: 'EXPLICIT_INVALIDATION_KINDS',
    type: 'list of keys, tags, patterns, or none',
    description:
      'what explicit invalidations (logical messages, Kafka `m` events) may carry: `keys`, `tags`, `patterns` or `none`; patterns are off by default ([docs/explicit-invalidations.md](docs/explicit-invalidations.md))',
    defaultDoc: '`keys,tags`',
    parse: parseExplicitKinds,
  }),
  EXPLICIT_INVALIDATION_PREFIXES: field.list({ name: 'EXPLICIT_INVALIDATION_PREFIXES', description: 'comma-separated; every explicit key, tag and pattern must start with one of them', default: [] }),
  EXPLICIT_INVALIDATION_MAX_ITEMS: field.integer({
    name: 'EXPLICIT_INVALIDATION_MAX_ITEMS',
    description: 'most keys + tags + patterns in one explicit invalidation; a refused message is dead-lettered whole and counted (`cdc_explicit_invalidations_refused_total`)',
    default: 1000,
    min: 1,
    max: 1_000_000,
  }),
  ADMIN_MAX_PATTERN_KEYS: field.integer({
    name: 'ADMIN_MAX_PATTERN_KEYS',
    description: 'most keys one pattern of `POST /admin/invalidate` deletes (the answer says when it stopped there)',
    default: 10_000,
    min: 1,
    max: 10_000_000,
  }),
};

const DEFAULT_EXPLICIT_KINDS: ReadonlySet<ExplicitKind> = new Set<ExplicitKind>(['keys', 'tags']);

function parseExplicitKinds(value: string): ReadonlySet<ExplicitKind> {
  const kinds = value.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (kinds.length === 1 && kinds[0] === 'none') return new Set();
  if (kinds.length === 0 || !kinds.every((k) => (EXPLICIT_KINDS as readonly string[]).includes(k))) {
    throw new FieldError(`must be 'none' or a comma-separated list of ${EXPLICIT_KINDS.join(', ')}`);
  }
  return new Set(kinds as ExplicitKind[]);
}

export const WORKER_CONFIG = defineConfig('Worker', WORKER_FIELDS, (v) => ({
  ...v,
  EXPLICIT_INVALIDATION_KINDS: v.EXPLICIT_INVALIDATION_KINDS ?? DEFAULT_EXPLICIT_KINDS,
}));

export type WorkerConfig = ConfigOf<typeof WORKER_CONFIG>;

/** The worker's own variables alone (deploy specs, commands that run no pipeline). */
export function workerConfigFromEnv(env: Env): WorkerConfig {
  return parseConfig(WORKER_CONFIG, env);
}

/** How rules files are loaded under this configuration (run, validate, explain, reload). */
export function rulesLoadOptions(worker: Pick<WorkerConfig, 'RULES_MAX_BYTES' | 'PATTERN_MIN_PREFIX'>): RulesLoadOptions {
  return { maxBytes: worker.RULES_MAX_BYTES, minPatternPrefix: worker.PATTERN_MIN_PREFIX };
}

/** The policy both sources apply to explicit invalidations (docs/explicit-invalidations.md). */
export function explicitPolicy(
  worker: Pick<WorkerConfig, 'EXPLICIT_INVALIDATION_KINDS' | 'EXPLICIT_INVALIDATION_PREFIXES' | 'EXPLICIT_INVALIDATION_MAX_ITEMS' | 'PATTERN_MIN_PREFIX'>,
): ExplicitInvalidationPolicy {
  return {
    allow: worker.EXPLICIT_INVALIDATION_KINDS,
    prefixes: worker.EXPLICIT_INVALIDATION_PREFIXES,
    maxItems: worker.EXPLICIT_INVALIDATION_MAX_ITEMS,
    minPatternPrefix: worker.PATTERN_MIN_PREFIX,
  };
}

const F = WORKER_FIELDS;
const EXPLICIT_POLICY_CONFIG = defineConfig(
  'Explicit invalidations',
  { EXPLICIT_INVALIDATION_KINDS: F.EXPLICIT_INVALIDATION_KINDS, EXPLICIT_INVALIDATION_PREFIXES: F.EXPLICIT_INVALIDATION_PREFIXES, EXPLICIT_INVALIDATION_MAX_ITEMS: F.EXPLICIT_INVALIDATION_MAX_ITEMS, PATTERN_MIN_PREFIX: F.PATTERN_MIN_PREFIX },
  (v) => explicitPolicy({ ...v, EXPLICIT_INVALIDATION_KINDS: v.EXPLICIT_INVALIDATION_KINDS ?? DEFAULT_EXPLICIT_KINDS }),
);
const RULES_LOAD_CONFIG = defineConfig('Rules loading', { RULES_MAX_BYTES: F.RULES_MAX_BYTES, PATTERN_MIN_PREFIX: F.PATTERN_MIN_PREFIX }, rulesLoadOptions);

/** The explicit-invalidation variables alone, for `explain` (a bad value is a ConfigError naming it). */
export function explicitPolicyFromEnv(env: Env): ExplicitInvalidationPolicy {
  return parseConfig(EXPLICIT_POLICY_CONFIG, env);
}

/** The rules-loading variables alone, for commands that do not run the worker (validate, explain). */
export function rulesLoadOptionsFromEnv(env: Env): RulesLoadOptions {
  return parseConfig(RULES_LOAD_CONFIG, env);
}
