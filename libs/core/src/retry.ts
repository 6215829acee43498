import { backOff } from 'exponential-backoff';
import { isRetriable } from './errors';

export interface RetryOptions {
  /** First delay in ms. Default 100. */
  initialDelayMs?: number;
  /** Cap on a single delay in ms. Default 10_000. */
  maxDelayMs?: number;
  /** Attempts before giving up; Infinity retries until `signal` aborts. Default 10. */
  maxAttempts?: number;
  /** Which errors to retry. Default: those whose `retriable` is true (see errors.ts). */
  retryIf?: (err: unknown) => boolean;
  /** Called before each wait, for logs and metrics. */
  onRetry?: (err: unknown, attempt: number) => void;
  /** Stops retrying (the last error is rethrown) once aborted. */
  signal?: AbortSignal;
}

/**
 * The one retry helper: capped exponential backoff with full jitter, retrying only
 * errors that say a retry can help.
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retryIf = opts.retryIf ?? isRetriable;
  return backOff(fn, {
    startingDelay: opts.initialDelayMs ?? 100,
    maxDelay: opts.maxDelayMs ?? 10_000,
    numOfAttempts: opts.maxAttempts === Infinity ? Number.MAX_SAFE_INTEGER : (opts.maxAttempts ?? 10),
    jitter: 'full',
    timeMultiple: 2,
    retry: (err: unknown, attempt: number) => {
      if (opts.signal?.aborted || !retryIf(err)) return false;
      opts.onRetry?.(err, attempt);
      return true;
    },
  });
}

/** Delay for attempt n (1-based) with the same policy, for loops that cannot use withRetry. */
export function backoffDelay(attempt: number, initialDelayMs = 100, maxDelayMs = 10_000): number {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(Math.random() * ceiling);
}
