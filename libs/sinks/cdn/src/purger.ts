import { CdnProvider } from '@cdc/core';
import { PlannedRequest } from './purge-plan';

/**
 * The thin provider client: the only CDN I/O. One call = one provider API request; it
 * throws PurgeError (never a raw client error) so nothing secret escapes.
 */
export interface Purger {
  readonly provider: CdnProvider;
  /** Whether the alias resolves to a configured zone/distribution. */
  hasTarget(alias: string): boolean;
  /** Per-target limits and rate for planning and the token bucket. */
  targetSettings(alias: string): TargetSettings;
  purge(request: PlannedRequest, signal?: AbortSignal): Promise<void>;
  /** After a `capacity` failure: resolves once the target has room again (or the signal aborts). */
  waitForCapacity(alias: string, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export interface TargetSettings {
  readonly ratePerSec: number;
  readonly burst: number;
  readonly maxUrlsPerRequest: number;
  readonly maxItemsPerRequest: number;
  readonly maxPathsPerRequest: number;
  readonly maxWildcardsPerRequest: number;
}
