import { CdcError, TransientError, errorMessage, isRetriable } from '@cdc/core';

/**
 * Redis reply prefixes that mean "the server is there but cannot serve this now":
 * loading a dataset, a failover in progress (READONLY replica, MASTERDOWN), a cluster
 * resharding (MOVED/ASK/TRYAGAIN/CLUSTERDOWN), a busy script, memory pressure.
 * Retrying after a backoff can succeed.
 */
const RETRIABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|BUSY|OOM|NOREPLICAS)\b/;

/** ioredis messages (not reply errors) raised while it has no usable connection. */
const CONNECTION_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  "Cluster isn't ready",
  'None of startup nodes is available',
  'Failed to refresh slots cache',
  'Command timed out',
  'Reached the max retries per request limit',
  'connect ETIMEDOUT',
  // Cluster topology changed between grouping commands by node and sending them.
  'should belong to the same slots allocation group',
];

/** True when the error says the connection (not the command) failed. */
export function isConnectionError(err: unknown): boolean {
  if (isRetriable(err)) return true; // ECONNREFUSED, ECONNRESET, ... and retriable CdcErrors
  const name = (err as { name?: unknown })?.name;
  if (name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError') return true;
  const message = errorMessage(err);
  return CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/**
 * Maps anything a Redis command can throw onto the project's error types:
 * connection problems and transient server states → TransientError (the pipeline
 * retries with backoff while the source stays paused); anything else (WRONGTYPE,
 * NOAUTH, CROSSSLOT, a bug) → a non-retriable CdcError that says what failed.
 */
export function toRedisSinkError(err: unknown, what: string): CdcError {
  if (err instanceof CdcError) return err;
  const message = errorMessage(err);
  if (isConnectionError(err)) return new TransientError(`redis unavailable while ${what}: ${message}`, err, 'REDIS_UNAVAILABLE');
  if (RETRIABLE_REPLY.test(message)) return new TransientError(`redis busy while ${what}: ${message}`, err, 'REDIS_BUSY');
  return new CdcError(`redis rejected ${what}: ${message}`, { code: 'REDIS_COMMAND_FAILED', retriable: false, cause: err });
}
