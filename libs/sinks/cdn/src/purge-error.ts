import { CdcError } from '@cdc/core';

/**
 * How a provider call failed, decided once by the purger so the worker's retry loop reads
 * one field: `rate-limited` waits (Retry-After) without counting an attempt, `capacity`
 * waits for CloudFront in-progress invalidations to finish, `transient` retries with
 * backoff, `rejected` dead-letters at once.
 */
export type PurgeFailure = 'rate-limited' | 'capacity' | 'transient' | 'rejected';

export class PurgeError extends CdcError {
  readonly failure: PurgeFailure;
  /** HTTP status when there was a response. */
  readonly status?: number;
  /** From Retry-After, when the provider sent one. */
  readonly retryAfterMs?: number;
  /** Label for cdc_cdn_purge_requests_total{status}. */
  readonly metricStatus: string;

  constructor(
    message: string,
    opts: { failure: PurgeFailure; code: string; metricStatus: string; status?: number; retryAfterMs?: number },
  ) {
    // No `cause`: provider/client errors carry request headers (Authorization, AWS keys).
    super(message, { code: opts.code, retriable: opts.failure !== 'rejected' });
    this.failure = opts.failure;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.metricStatus = opts.metricStatus;
  }
}

/** Parses Retry-After (delta-seconds or an HTTP date) into ms; undefined when absent or invalid. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
