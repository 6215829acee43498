import { ConfigError, ConfigSpec, Env, FieldError, defineConfig, field, parseConfig } from '@cdc/core';

export interface RedisHostPort {
  readonly host: string;
  readonly port: number;
}

/** How to reach Redis. Built from the environment by `redisConfigFromEnv`, or by hand. */
export type RedisConfig = RedisStandaloneConfig | RedisSentinelConfig | RedisClusterConfig;

interface RedisCommonConfig {
  /** ACL user. Default: from the URL, else none. */
  readonly username?: string;
  /** Password. REDIS_PASSWORD wins over a password in the URL. */
  readonly password?: string;
  /** TLS to the data nodes (also implied by a `rediss://` URL). Default false. */
  readonly tls?: boolean;
  /** A command that gets no reply within this time fails (and is retried by the pipeline). Default 5000. */
  readonly commandTimeoutMs?: number;
  /** Connect timeout per attempt. Default 5000. */
  readonly connectTimeoutMs?: number;
}

export interface RedisStandaloneConfig extends RedisCommonConfig {
  readonly mode: 'standalone';
  /** redis://[user[:password]@]host[:port][/db] or rediss://... Default redis://127.0.0.1:6379. */
  readonly url: string;
}

export interface RedisSentinelConfig extends RedisCommonConfig {
  readonly mode: 'sentinel';
  readonly sentinels: readonly RedisHostPort[];
  /** Master group name the sentinels monitor. */
  readonly sentinelName: string;
  /** Password of the sentinels themselves, when they require one. */
  readonly sentinelPassword?: string;
  readonly db?: number;
}

export interface RedisClusterConfig extends RedisCommonConfig {
  readonly mode: 'cluster';
  /** Seed nodes; the rest of the topology is discovered. */
  readonly nodes: readonly RedisHostPort[];
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const hostPorts = (name: string, description: string) =>
  field.list({ name, description, what: 'list of host:port', item: field.parseHostPort });

const REDIS_URL = field.url({
  name: 'REDIS_URL',
  description: 'standalone server, `redis://[user[:password]@]host[:port][/db]` or `rediss://`',
  default: DEFAULT_REDIS_URL,
  secret: true,
  protocols: ['redis:', 'rediss:'],
  check: (u) => {
    if (!u.hostname) return 'has no host';
    const db = u.pathname.replace(/^\//, '');
    if (db !== '' && !/^\d+$/.test(db)) return 'has a database path that is not a number';
    return undefined;
  },
});

/** The variables the Redis connection reads (README "Redis" is generated from them). */
export const REDIS_FIELDS = {
  url: REDIS_URL,
  sentinels: hostPorts('REDIS_SENTINELS', 'Sentinel mode: the sentinels, `host:port,...` (with `REDIS_SENTINEL_NAME`)'),
  sentinelName: field.text({ name: 'REDIS_SENTINEL_NAME', description: 'Sentinel mode: the master group name' }),
  sentinelPassword: field.text({ name: 'REDIS_SENTINEL_PASSWORD', description: 'Sentinel mode: password of the sentinels themselves', secret: true }),
  clusterNodes: hostPorts(
    'REDIS_CLUSTER_NODES',
    'Cluster mode: seed nodes `host:port,...`, IPv6 as `[::1]:7000`, no scheme or credentials (TLS is `REDIS_TLS`, auth `REDIS_USERNAME`/`REDIS_PASSWORD`)',
  ),
  username: field.text({ name: 'REDIS_USERNAME', description: 'ACL user (default: from the URL)' }),
  password: field.text({ name: 'REDIS_PASSWORD', description: 'password; wins over one in the URL', secret: true }),
  tls: field.boolean({ name: 'REDIS_TLS', description: 'TLS to the data nodes (also implied by `rediss://`)', defaultDoc: '`false`' }),
  commandTimeoutMs: field.integer({ name: 'REDIS_COMMAND_TIMEOUT_MS', description: 'a command without a reply in this time fails (and is retried)', defaultDoc: '`5000`', min: 1 }),
  connectTimeoutMs: field.integer({ name: 'REDIS_CONNECT_TIMEOUT_MS', description: 'connect timeout per attempt', defaultDoc: '`5000`', min: 1 }),
};

/**
 * The Redis connection from the environment: REDIS_URL (standalone), or REDIS_SENTINELS with
 * REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES. Every bad variable is named; values that may
 * hold secrets are not echoed.
 */
export const REDIS_CONFIG: ConfigSpec<RedisConfig> = defineConfig('Redis', REDIS_FIELDS, (v, problems, env) => {
  const common: RedisCommonConfig = {
    username: v.username,
    password: v.password,
    tls: v.tls,
    commandTimeoutMs: v.commandTimeoutMs,
    connectTimeoutMs: v.connectTimeoutMs,
  };
  const set = (name: string): boolean => (env[name] ?? '') !== '';
  if (set('REDIS_SENTINELS') && set('REDIS_CLUSTER_NODES')) problems.push('REDIS_SENTINELS, REDIS_CLUSTER_NODES: both set; choose one mode');
  if (set('REDIS_URL') && (set('REDIS_SENTINELS') || set('REDIS_CLUSTER_NODES'))) {
    problems.push('REDIS_URL: set together with REDIS_SENTINELS or REDIS_CLUSTER_NODES; choose one mode');
  }
  if (set('REDIS_SENTINELS')) {
    if (!v.sentinelName) problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS');
    return { ...common, mode: 'sentinel', sentinels: v.sentinels ?? [], sentinelName: v.sentinelName ?? '', sentinelPassword: v.sentinelPassword };
  }
  if (set('REDIS_CLUSTER_NODES')) return { ...common, mode: 'cluster', nodes: v.clusterNodes ?? [] };
  return { ...common, mode: 'standalone', url: v.url };
});

/** Reads the Redis connection settings from the environment; one ConfigError names every bad variable. */
export function redisConfigFromEnv(env: Env = process.env): RedisConfig {
  return parseConfig(REDIS_CONFIG, env);
}

/** Why a Redis URL is unusable, or undefined when it is fine. Never includes the URL itself. */
export function checkRedisUrl(url: string): string | undefined {
  try {
    REDIS_URL.parse(url);
    return undefined;
  } catch (err) {
    if (err instanceof FieldError) return err.message;
    throw err;
  }
}

/** Validates a numeric sink option (default when undefined); a bad value is a ConfigError naming it. */
export function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}
