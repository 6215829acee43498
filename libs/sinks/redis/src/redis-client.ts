import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import { ConfigError, TransientError, childLogger, errorMessage, redactUrl } from '@cdc/core';
import { RedisConfig, checkRedisUrl } from './redis-config';
import { toRedisSinkError } from './redis-errors';

/** A standalone/Sentinel connection or a Cluster: every sink in this library accepts either. */
export type RedisClient = Redis | Cluster;

const log = childLogger('redis-client');

/** Reconnect forever in the background, backing off to 2 s between attempts. */
const reconnectDelay = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000);

/**
 * Builds an ioredis client for the sinks. Options are chosen for a sink that must
 * notice outages instead of hiding them in a queue:
 *   - enableOfflineQueue false: a command issued while disconnected fails at once;
 *   - maxRetriesPerRequest 0: commands in flight when the connection drops fail at once
 *     instead of being silently re-sent;
 *   - commandTimeout: a server that accepts but never answers fails the command too;
 * so apply() rejects with a TransientError, the pipeline backs off and keeps the source
 * paused, while ioredis keeps reconnecting in the background.
 * The client is lazy: nothing connects until `connectRedis` (called by the sinks' start()).
 */
export function createRedisClient(config: RedisConfig): RedisClient {
  const common: RedisOptions = {
    username: config.username,
    password: config.password,
    commandTimeout: config.commandTimeoutMs ?? 5_000,
    connectTimeout: config.connectTimeoutMs ?? 5_000,
    maxRetriesPerRequest: 0,
    enableReadyCheck: true,
    lazyConnect: true,
    connectionName: 'cdc-invalidator',
    // After a failover the old master answers READONLY: reconnect so Sentinel/DNS lead us to the new one.
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    ...(config.tls ? { tls: {} } : {}),
  };
  let client: RedisClient;
  switch (config.mode) {
    case 'standalone': {
      const problem = checkRedisUrl(config.url);
      if (problem) throw new ConfigError(`REDIS_URL ${problem}`, 'REDIS_CONFIG');
      const url = new URL(config.url);
      const db = url.pathname.replace(/^\//, '');
      client = new Redis({
        ...common,
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : 6379,
        username: config.username ?? (url.username ? decodeURIComponent(url.username) : undefined),
        password: config.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
        db: db ? Number(db) : 0,
        ...(config.tls || url.protocol === 'rediss:' ? { tls: {} } : {}),
        enableOfflineQueue: false,
        retryStrategy: reconnectDelay,
      });
      break;
    }
    case 'sentinel':
      client = new Redis({
        ...common,
        sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: config.sentinelName,
        sentinelPassword: config.sentinelPassword,
        enableTLSForSentinelMode: config.tls ?? false,
        db: config.db ?? 0,
        enableOfflineQueue: false,
        retryStrategy: reconnectDelay,
        sentinelRetryStrategy: reconnectDelay,
      });
      break;
    case 'cluster': {
      const { lazyConnect: _lazy, ...nodeOptions } = common;
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        lazyConnect: true,
        scaleReads: 'master',
        clusterRetryStrategy: reconnectDelay,
        slotsRefreshTimeout: config.connectTimeoutMs ?? 5_000,
        redisOptions: nodeOptions,
      };
      client = new Cluster(config.nodes.map((n) => ({ host: n.host, port: n.port })), options);
      break;
    }
  }
  watchConnection(client, describeRedisTarget(config));
  return client;
}

/** Where the client points, safe for logs (no password). */
export function describeRedisTarget(config: RedisConfig): string {
  switch (config.mode) {
    case 'standalone':
      return redactUrl(config.url);
    case 'sentinel':
      return `sentinel ${config.sentinelName}@${config.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
    case 'cluster':
      return `cluster ${config.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
}

/**
 * Logs state changes once each (not once per reconnect attempt) and keeps ioredis from
 * printing "Unhandled error event" for errors that commands already report.
 */
function watchConnection(client: RedisClient, target: string): void {
  let everReady = false;
  let down = false;
  const lost = (err?: unknown): void => {
    if (down) return;
    down = true;
    log.warn({ target, err: err === undefined ? undefined : errorMessage(err) }, 'redis connection lost; reconnecting in the background');
  };
  client.on('ready', () => {
    log.info({ target }, everReady ? 'redis connection restored' : 'redis connected');
    everReady = true;
    down = false;
  });
  // 'reconnecting', not 'close': a deliberate quit()/disconnect() closes without reconnecting.
  client.on('reconnecting', () => {
    if (everReady) lost();
  });
  client.on('error', (err: unknown) => lost(err));
}

/** True for a Cluster client (duck-typed so a client from another ioredis copy also works). */
export function isClusterClient(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * Connects a lazy client (or waits for one that is connecting) and checks it answers.
 * Throws a TransientError when Redis cannot be reached now; the caller retries.
 */
export async function connectRedis(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  // ioredis reports a refused AUTH only as an 'error' event and then "Connection is closed":
  // remember it, so a wrong password is a ConfigError (no retry fixes it), not an outage.
  let authError: Error | undefined;
  const onError = (err: Error): void => {
    if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message)) authError = err;
  };
  client.on('error', onError);
  try {
    if (client.status === 'wait') await client.connect();
    else if (client.status !== 'ready') await waitUntilReady(client, timeoutMs);
    await client.ping();
  } catch (err) {
    const auth = authError ?? (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(errorMessage(err)) ? (err as Error) : undefined);
    if (auth) throw new ConfigError(`redis refused authentication: ${auth.message} (check REDIS_USERNAME / REDIS_PASSWORD or the password in REDIS_URL)`, 'REDIS_AUTH');
    throw toRedisSinkError(err, 'connecting');
  } finally {
    client.off('error', onError);
  }
}

function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReady = (): void => done();
    const onEnd = (): void => done(new Error('Connection is closed.'));
    const timer = setTimeout(() => done(new TransientError(`redis not ready after ${timeoutMs} ms`, undefined, 'REDIS_UNAVAILABLE')), timeoutMs);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}
