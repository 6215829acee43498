import { hostname } from 'node:os';
import { CdnProvider, ConfigError } from '@cdc/core';

/**
 * Typed CDN configuration, read once from the environment at boot. Every bad variable is
 * reported in one ConfigError. Per-target options ride on the alias list:
 *   CLOUDFLARE_ZONES="shop=0123abcd?urls=500&rate=50&burst=500,blog=4567ef"
 *   CLOUDFRONT_DISTRIBUTIONS="web=E123ABC?rate=2"
 */
export interface CloudflareZoneConfig {
  readonly alias: string;
  readonly zoneId: string;
  /** URLs per `files` request (30 below Enterprise, 500 Enterprise). */
  readonly maxUrlsPerRequest: number;
  /** Tags / hosts / prefixes per request (100). */
  readonly maxItemsPerRequest: number;
  readonly ratePerSec: number;
  readonly burst: number;
}

export interface CloudflareConfig {
  readonly apiUrl: string;
  /** Secret: never logged. */
  readonly apiToken: string;
  readonly timeoutMs: number;
  readonly zones: ReadonlyMap<string, CloudflareZoneConfig>;
}

export interface CloudFrontDistributionConfig {
  readonly alias: string;
  readonly distributionId: string;
  /** Paths per CreateInvalidation (3,000). */
  readonly maxPathsPerRequest: number;
  /** Wildcard paths per CreateInvalidation; the in-progress limit is 15 per distribution. */
  readonly maxWildcardsPerRequest: number;
  readonly ratePerSec: number;
  readonly burst: number;
}

export interface CloudFrontConfig {
  /** Overrides the AWS endpoint (tests, VPC endpoints). */
  readonly endpoint?: string;
  readonly region: string;
  readonly timeoutMs: number;
  /** Longest pause between ListInvalidations polls while waiting for in-progress capacity. */
  readonly capacityPollMaxMs: number;
  readonly distributions: ReadonlyMap<string, CloudFrontDistributionConfig>;
}

export interface OutboxConfig {
  readonly stream: string;
  readonly deadLetterStream: string;
  readonly group: string;
  readonly consumer: string;
  /** Replicas that must acknowledge an outbox write (Redis WAIT) before apply() resolves; 0 = none. */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** Purges per stream entry; a larger batch is split over several entries. */
  readonly maxPurgesPerEntry: number;
}

export interface PurgeWorkerConfig {
  /** How long a target collects entries before it plans requests. */
  readonly coalesceMs: number;
  /** Provider attempts per request before its entries are dead-lettered (429 and capacity waits do not count). */
  readonly maxAttempts: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** More than this many paths/URLs under one directory in one plan collapse into one wildcard/prefix; 0 disables. */
  readonly collapseThreshold: number;
  /** Pending entries idle this long (their worker died) are claimed by another worker. */
  readonly claimMinIdleMs: number;
  /** Entries read per XREADGROUP. */
  readonly readCount: number;
  /** Entries held in memory at once (backpressure on the stream). */
  readonly maxInFlightEntries: number;
  /** Concurrent provider requests per target. */
  readonly requestConcurrency: number;
}

export interface CdnConfig {
  readonly cloudflare?: CloudflareConfig;
  readonly cloudfront?: CloudFrontConfig;
  readonly outbox: OutboxConfig;
  readonly worker: PurgeWorkerConfig;
}

type Env = Readonly<Record<string, string | undefined>>;

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string, fallback: string): string {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? fallback : v.trim();
  }

  optional(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  num(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER, integer = true): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    return this.check(name, raw, min, max, integer) ?? fallback;
  }

  check(name: string, raw: string, min: number, max: number, integer: boolean): number | undefined {
    const n = Number(raw);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      this.problems.push(`${name}: expected ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got "${raw}"`);
      return undefined;
    }
    return n;
  }

  url(name: string, fallback?: string): string | undefined {
    const raw = this.optional(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      return raw.replace(/\/+$/, '');
    } catch {
      this.problems.push(`${name}: expected an http(s) URL`);
      return undefined;
    }
  }

  /** `alias=id?opt=1&opt2=2,alias2=id2` → entries; options validated by the caller. */
  aliasList(name: string, idPattern: RegExp, idWhat: string): Array<{ alias: string; id: string; options: URLSearchParams }> {
    const raw = this.optional(name);
    if (raw === undefined) return [];
    const out: Array<{ alias: string; id: string; options: URLSearchParams }> = [];
    const seen = new Set<string>();
    for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^([A-Za-z0-9_.-]+)=([^?]+)(?:\?(.*))?$/.exec(part);
      if (!m) {
        this.problems.push(`${name}: expected alias=id[?option=value&...], got "${part}"`);
        continue;
      }
      const [, alias, id, query] = m;
      if (!idPattern.test(id)) {
        this.problems.push(`${name}: ${alias}: expected ${idWhat}`);
        continue;
      }
      if (seen.has(alias)) {
        this.problems.push(`${name}: alias "${alias}" appears twice`);
        continue;
      }
      seen.add(alias);
      out.push({ alias, id, options: new URLSearchParams(query ?? '') });
    }
    return out;
  }

  option(name: string, alias: string, options: URLSearchParams, key: string, fallback: number, min: number, max: number, integer = true): number {
    const raw = options.get(key);
    if (raw === null) return fallback;
    return this.check(`${name} (${alias}?${key})`, raw, min, max, integer) ?? fallback;
  }

  unknownOptions(name: string, alias: string, options: URLSearchParams, known: readonly string[]): void {
    for (const key of options.keys()) {
      if (!known.includes(key)) this.problems.push(`${name} (${alias}): unknown option "${key}" (known: ${known.join(', ')})`);
    }
  }
}

/** Reads the CDN configuration; throws ConfigError naming every bad variable. */
export function cdnConfigFromEnv(env: Env = process.env): CdnConfig {
  const r = new EnvReader(env);

  let cloudflare: CloudflareConfig | undefined;
  const zones = r.aliasList('CLOUDFLARE_ZONES', /^[A-Za-z0-9]{1,64}$/, 'a zone id (letters and digits)');
  if (zones.length > 0 || r.optional('CLOUDFLARE_API_TOKEN')) {
    const ratePerSec = r.num('CLOUDFLARE_RATE_PER_SEC', 5, 0.01, 10_000, false);
    const burst = r.num('CLOUDFLARE_BURST', Math.max(1, Math.floor(ratePerSec * 5)), 1, 100_000);
    const maxUrls = r.num('CLOUDFLARE_MAX_URLS_PER_REQUEST', 30, 1, 500);
    const maxItems = r.num('CLOUDFLARE_MAX_ITEMS_PER_REQUEST', 100, 1, 500);
    const apiToken = r.optional('CLOUDFLARE_API_TOKEN');
    if (!apiToken) r.problems.push('CLOUDFLARE_API_TOKEN: required when CLOUDFLARE_ZONES is set');
    if (zones.length === 0) r.problems.push('CLOUDFLARE_ZONES: required when CLOUDFLARE_API_TOKEN is set (alias=zone_id,...)');
    const zoneMap = new Map<string, CloudflareZoneConfig>();
    for (const z of zones) {
      const name = 'CLOUDFLARE_ZONES';
      r.unknownOptions(name, z.alias, z.options, ['urls', 'items', 'rate', 'burst']);
      const rate = r.option(name, z.alias, z.options, 'rate', ratePerSec, 0.01, 10_000, false);
      zoneMap.set(z.alias, {
        alias: z.alias,
        zoneId: z.id,
        maxUrlsPerRequest: r.option(name, z.alias, z.options, 'urls', maxUrls, 1, 500),
        maxItemsPerRequest: r.option(name, z.alias, z.options, 'items', maxItems, 1, 500),
        ratePerSec: rate,
        burst: r.option(name, z.alias, z.options, 'burst', z.options.has('rate') ? Math.max(1, Math.floor(rate * 5)) : burst, 1, 100_000),
      });
    }
    cloudflare = {
      apiUrl: r.url('CLOUDFLARE_API_URL', 'https://api.cloudflare.com') ?? 'https://api.cloudflare.com',
      apiToken: apiToken ?? '',
      timeoutMs: r.num('CLOUDFLARE_TIMEOUT_MS', 10_000, 100, 300_000),
      zones: zoneMap,
    };
  }

  let cloudfront: CloudFrontConfig | undefined;
  const dists = r.aliasList('CLOUDFRONT_DISTRIBUTIONS', /^[A-Z0-9]{1,32}$/, 'a distribution id (upper-case letters and digits)');
  if (dists.length > 0) {
    const ratePerSec = r.num('CLOUDFRONT_RATE_PER_SEC', 2, 0.01, 1000, false);
    const burst = r.num('CLOUDFRONT_BURST', Math.max(1, Math.ceil(ratePerSec * 2)), 1, 10_000);
    const maxPaths = r.num('CLOUDFRONT_MAX_PATHS_PER_INVALIDATION', 3000, 1, 3000);
    const maxWildcards = r.num('CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS', 15, 1, 15);
    const distMap = new Map<string, CloudFrontDistributionConfig>();
    for (const d of dists) {
      const name = 'CLOUDFRONT_DISTRIBUTIONS';
      r.unknownOptions(name, d.alias, d.options, ['paths', 'wildcards', 'rate', 'burst']);
      distMap.set(d.alias, {
        alias: d.alias,
        distributionId: d.id,
        maxPathsPerRequest: r.option(name, d.alias, d.options, 'paths', maxPaths, 1, 3000),
        maxWildcardsPerRequest: r.option(name, d.alias, d.options, 'wildcards', maxWildcards, 1, 15),
        ratePerSec: r.option(name, d.alias, d.options, 'rate', ratePerSec, 0.01, 1000, false),
        burst: r.option(name, d.alias, d.options, 'burst', burst, 1, 10_000),
      });
    }
    cloudfront = {
      endpoint: r.url('CLOUDFRONT_ENDPOINT'),
      region: r.str('AWS_REGION', 'us-east-1'),
      timeoutMs: r.num('CLOUDFRONT_TIMEOUT_MS', 10_000, 100, 300_000),
      capacityPollMaxMs: r.num('CLOUDFRONT_CAPACITY_POLL_MAX_MS', 10_000, 10, 600_000),
      distributions: distMap,
    };
  }

  // The {cdn} hash tag keeps the outbox and its dead-letter stream in one Cluster slot (one MULTI).
  const stream = r.str('CDN_OUTBOX_STREAM', 'cdc:{cdn}:outbox');
  const outbox: OutboxConfig = {
    stream,
    deadLetterStream: r.str('CDN_DEAD_LETTER_STREAM', `${stream}:dead`),
    group: r.str('CDN_CONSUMER_GROUP', 'cdn-purgers'),
    consumer: r.str('CDN_CONSUMER_NAME', `${hostname()}-${process.pid}`),
    waitReplicas: r.num('CDN_OUTBOX_WAIT_REPLICAS', 0, 0, 100),
    waitTimeoutMs: r.num('CDN_OUTBOX_WAIT_TIMEOUT_MS', 1000, 1, 60_000),
    maxPurgesPerEntry: r.num('CDN_MAX_PURGES_PER_ENTRY', 1000, 1, 100_000),
  };
  if (outbox.deadLetterStream === outbox.stream) r.problems.push('CDN_DEAD_LETTER_STREAM: must differ from CDN_OUTBOX_STREAM');

  const worker: PurgeWorkerConfig = {
    coalesceMs: r.num('CDN_COALESCE_MS', 100, 0, 60_000),
    maxAttempts: r.num('CDN_MAX_ATTEMPTS', 10, 1, 1000),
    retryInitialMs: r.num('CDN_RETRY_INITIAL_MS', 200, 1, 60_000),
    retryMaxMs: r.num('CDN_RETRY_MAX_MS', 30_000, 1, 3_600_000),
    collapseThreshold: r.num('CDN_COLLAPSE_THRESHOLD', 100, 0, 1_000_000),
    claimMinIdleMs: r.num('CDN_CLAIM_MIN_IDLE_MS', 60_000, 100, 86_400_000),
    readCount: r.num('CDN_READ_COUNT', 500, 1, 10_000),
    maxInFlightEntries: r.num('CDN_MAX_IN_FLIGHT_ENTRIES', 5000, 1, 1_000_000),
    requestConcurrency: r.num('CDN_REQUEST_CONCURRENCY', 4, 1, 256),
  };

  if (r.problems.length > 0) {
    throw new ConfigError(`invalid CDN configuration:\n  ${r.problems.join('\n  ')}`, 'CDN_CONFIG');
  }
  return { cloudflare, cloudfront, outbox, worker };
}

/** A CDN target named by the rules (zone or distribution alias). */
export interface CdnAlias {
  readonly provider: CdnProvider;
  readonly target: string;
}

/** Problems for aliases the rules use that the configuration lacks (empty when all resolve). */
export function checkAliases(cdnAliases: Iterable<CdnAlias>, config: CdnConfig): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { provider, target } of cdnAliases) {
    const key = `${provider}:${target}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (provider === 'cloudflare' && !config.cloudflare?.zones.has(target)) {
      const known = [...(config.cloudflare?.zones.keys() ?? [])];
      problems.push(`cloudflare zone "${target}" is used by the rules but not configured in CLOUDFLARE_ZONES (configured: ${known.join(', ') || 'none'})`);
    }
    if (provider === 'cloudfront' && !config.cloudfront?.distributions.has(target)) {
      const known = [...(config.cloudfront?.distributions.keys() ?? [])];
      problems.push(`cloudfront distribution "${target}" is used by the rules but not configured in CLOUDFRONT_DISTRIBUTIONS (configured: ${known.join(', ') || 'none'})`);
    }
  }
  return problems;
}
