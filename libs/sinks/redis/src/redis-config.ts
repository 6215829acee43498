import { ConfigError } from '@cdc/core';

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

/**
 * Reads the Redis connection settings from the environment:
 *   REDIS_URL             standalone (default redis://127.0.0.1:6379)
 *   REDIS_SENTINELS       host:port,host:port  (with REDIS_SENTINEL_NAME; REDIS_SENTINEL_PASSWORD optional)
 *   REDIS_CLUSTER_NODES   host:port,host:port
 *   REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS (true|false),
 *   REDIS_COMMAND_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS
 * Every bad variable is named in one ConfigError; values (which may hold secrets) are not echoed.
 */
export function redisConfigFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): RedisConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  const tls = parseBoolean(value('REDIS_TLS'), 'REDIS_TLS', problems);
  const commandTimeoutMs = parsePositiveInt(value('REDIS_COMMAND_TIMEOUT_MS'), 'REDIS_COMMAND_TIMEOUT_MS', problems);
  const connectTimeoutMs = parsePositiveInt(value('REDIS_CONNECT_TIMEOUT_MS'), 'REDIS_CONNECT_TIMEOUT_MS', problems);
  const common: RedisCommonConfig = {
    username: value('REDIS_USERNAME'),
    password: value('REDIS_PASSWORD'),
    tls,
    commandTimeoutMs,
    connectTimeoutMs,
  };

  const sentinels = value('REDIS_SENTINELS');
  const clusterNodes = value('REDIS_CLUSTER_NODES');
  const url = value('REDIS_URL');
  if (sentinels && clusterNodes) problems.push('REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: choose one mode');

  let config: RedisConfig;
  if (sentinels) {
    const sentinelName = value('REDIS_SENTINEL_NAME');
    if (!sentinelName) problems.push('REDIS_SENTINEL_NAME is required with REDIS_SENTINELS');
    config = {
      ...common,
      mode: 'sentinel',
      sentinels: parseHostPorts(sentinels, 'REDIS_SENTINELS', problems),
      sentinelName: sentinelName ?? '',
      sentinelPassword: value('REDIS_SENTINEL_PASSWORD'),
    };
  } else if (clusterNodes) {
    config = { ...common, mode: 'cluster', nodes: parseHostPorts(clusterNodes, 'REDIS_CLUSTER_NODES', problems) };
  } else {
    const standalone: RedisStandaloneConfig = { ...common, mode: 'standalone', url: url ?? DEFAULT_REDIS_URL };
    const urlProblem = checkRedisUrl(standalone.url);
    if (urlProblem) problems.push(`REDIS_URL ${urlProblem}`);
    config = standalone;
  }
  if (url && (sentinels || clusterNodes)) problems.push('REDIS_URL is set together with REDIS_SENTINELS or REDIS_CLUSTER_NODES: choose one mode');

  if (problems.length) throw new ConfigError(`invalid Redis configuration:\n  - ${problems.join('\n  - ')}`, 'REDIS_CONFIG');
  return config;
}

/** Why a Redis URL is unusable, or undefined when it is fine. Never includes the URL itself. */
export function checkRedisUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL (expected redis://[user[:password]@]host[:port][/db])';
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `must start with redis:// or rediss:// (got ${parsed.protocol}//)`;
  if (!parsed.hostname) return 'has no host';
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return 'has a database path that is not a number';
  return undefined;
}

function parseHostPorts(raw: string, name: string, problems: string[]): RedisHostPort[] {
  const out: RedisHostPort[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    // host:port, with [v6]:port for IPv6 literals.
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) {
      problems.push(`${name} must be a comma-separated list of host:port (bad entry "${item}")`);
      continue;
    }
    out.push({ host: m[1] ?? m[2], port });
  }
  if (out.length === 0 && !problems.some((p) => p.startsWith(name))) problems.push(`${name} lists no host:port`);
  return out;
}

function parseBoolean(raw: string | undefined, name: string, problems: string[]): boolean | undefined {
  if (raw === undefined) return undefined;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  problems.push(`${name} must be true or false`);
  return undefined;
}

function parsePositiveInt(raw: string | undefined, name: string, problems: string[]): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    problems.push(`${name} must be a positive integer (milliseconds)`);
    return undefined;
  }
  return Number(raw);
}

/** Validates a numeric sink option (default when undefined); a bad value is a ConfigError naming it. */
export function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}
