/**
 * What compiled rules produce for one event. Pure data: the pipeline coalesces
 * these into an InvalidationBatch and the sinks apply it.
 */

export type CdnProvider = 'cloudflare' | 'cloudfront';

/**
 * One CDN purge item. `target` is the zone alias (Cloudflare) or distribution alias
 * (CloudFront) from the rules file; ids and credentials are resolved from configuration
 * by the CDN sink, never carried here.
 */
export interface CdnPurge {
  readonly provider: CdnProvider;
  readonly target: string;
  /** cloudflare: files | tags | hosts | prefixes; cloudfront: paths. */
  readonly kind: 'files' | 'tags' | 'hosts' | 'prefixes' | 'paths';
  readonly value: string;
  /** Cloudflare cache-key headers for a `files` entry (e.g. {"CF-Device-Type": "mobile"}). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RuleMatch {
  /** Rule name, or `explicit` for logical-message invalidations. */
  readonly rule: string;
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  /** Redis glob patterns; interpolated values are already glob-escaped. */
  readonly patterns: readonly string[];
  /** L1 pub/sub channels that should hear about this match. */
  readonly channels: readonly string[];
  readonly cdn: readonly CdnPurge[];
  /**
   * Templates that could not be rendered because a value was UNKNOWN (unchanged TOAST,
   * column absent from the old tuple). Counted and logged per rule by the pipeline.
   */
  readonly missing: readonly MissingValue[];
}

export interface MissingValue {
  readonly rule: string;
  readonly template: string;
  readonly column: string;
  /**
   * unknown: the event cannot supply the value; absent-side: the old row was not logged;
   * empty: the value rendered empty where that would widen the purge (a pattern, a CDN
   * prefix or wildcard path), so the template yields nothing.
   */
  readonly reason: 'unknown' | 'absent-side' | 'empty';
}
