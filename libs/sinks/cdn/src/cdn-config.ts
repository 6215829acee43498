import { hostname } from 'node:os';
import { CdnProvider, ConfigSpec, Env, FieldError, defineConfig, field, parseConfig } from '@cdc/core';

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

interface AliasEntry {
  readonly alias: string;
  readonly id: string;
  readonly options: URLSearchParams;
}

/** `alias=id?opt=1&opt2=2,alias2=id2` → entries; unknown options refused here, values checked by the caller (their defaults come from other variables). */
function aliasList(idPattern: RegExp, idWhat: string, known: readonly string[]): (value: string) => AliasEntry[] {
  return (value) => {
    const out: AliasEntry[] = [];
    const bad: string[] = [];
    const seen = new Set<string>();
    for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^([A-Za-z0-9_.-]+)=([^?]+)(?:\?(.*))?$/.exec(part);
      if (!m) {
        bad.push(`expected alias=id[?option=value&...], got "${part}"`);
        continue;
      }
      const [, alias, id, query] = m;
      const options = new URLSearchParams(query ?? '');
      const unknown = [...options.keys()].filter((k) => !known.includes(k));
      if (!idPattern.test(id)) bad.push(`${alias}: expected ${idWhat}`);
      else if (seen.has(alias)) bad.push(`alias "${alias}" appears twice`);
      else if (unknown.length) bad.push(`${alias}: unknown option "${unknown.join('", "')}" (known: ${known.join(', ')})`);
      else {
        seen.add(alias);
        out.push({ alias, id, options });
      }
    }
    if (bad.length) throw new FieldError(bad.join('; '));
    return out;
  };
}

const HTTP = ['http:', 'https:'];
const ms = (name: string, description: string, def: number, min: number, max: number) => field.integer({ name, description, default: def, min, max });

/** The variables the CDN outbox and purge worker read, declared once (docs/cdn.md's table is checked against them). */
export const CDN_FIELDS = {
  cloudflareZones: field.custom({
    name: 'CLOUDFLARE_ZONES',
    type: 'alias=zone_id list',
    description: '`alias=zone_id[?urls=&items=&rate=&burst=],…` (aliases are what rules name)',
    parse: aliasList(/^[A-Za-z0-9]{1,64}$/, 'a zone id (letters and digits)', ['urls', 'items', 'rate', 'burst']),
  }),
  cloudflareApiToken: field.text({ name: 'CLOUDFLARE_API_TOKEN', description: 'API token with *Zone → Cache Purge*; required with zones', secret: true }),
  cloudflareApiUrl: field.url({ name: 'CLOUDFLARE_API_URL', description: 'Cloudflare API base URL', default: 'https://api.cloudflare.com', protocols: HTTP }),
  cloudflareRate: field.decimal({ name: 'CLOUDFLARE_RATE_PER_SEC', description: 'token bucket per zone: requests per second', default: 5, min: 0.01, max: 10_000 }),
  cloudflareBurst: field.integer({ name: 'CLOUDFLARE_BURST', description: 'token bucket per zone: burst', defaultDoc: '5×rate', min: 1, max: 100_000 }),
  cloudflareMaxUrls: field.integer({ name: 'CLOUDFLARE_MAX_URLS_PER_REQUEST', description: 'URLs per `files` request (30 below Enterprise, 500 Enterprise)', default: 30, min: 1, max: 500 }),
  cloudflareMaxItems: field.integer({ name: 'CLOUDFLARE_MAX_ITEMS_PER_REQUEST', description: 'tags / hosts / prefixes per request', default: 100, min: 1, max: 500 }),
  cloudflareTimeoutMs: ms('CLOUDFLARE_TIMEOUT_MS', 'per request', 10_000, 100, 300_000),
  cloudfrontDistributions: field.custom({
    name: 'CLOUDFRONT_DISTRIBUTIONS',
    type: 'alias=distribution_id list',
    description: '`alias=DISTRIBUTIONID[?paths=&wildcards=&rate=&burst=],…`',
    parse: aliasList(/^[A-Z0-9]{1,32}$/, 'a distribution id (upper-case letters and digits)', ['paths', 'wildcards', 'rate', 'burst']),
  }),
  cloudfrontEndpoint: field.url({ name: 'CLOUDFRONT_ENDPOINT', description: 'override the AWS endpoint (tests, VPC endpoint)', defaultDoc: 'AWS', protocols: HTTP }),
  awsRegion: field.text({ name: 'AWS_REGION', description: 'CloudFront is global; the API signs in us-east-1', default: 'us-east-1' }),
  cloudfrontRate: field.decimal({ name: 'CLOUDFRONT_RATE_PER_SEC', description: 'token bucket per distribution: requests per second', default: 2, min: 0.01, max: 1000 }),
  cloudfrontBurst: field.integer({ name: 'CLOUDFRONT_BURST', description: 'token bucket per distribution: burst', defaultDoc: '2×rate', min: 1, max: 10_000 }),
  cloudfrontMaxPaths: field.integer({ name: 'CLOUDFRONT_MAX_PATHS_PER_INVALIDATION', description: 'paths per CreateInvalidation', default: 3000, min: 1, max: 3000 }),
  cloudfrontMaxWildcards: field.integer({ name: 'CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS', description: 'wildcard paths per CreateInvalidation (15 in progress per distribution)', default: 15, min: 1, max: 15 }),
  cloudfrontTimeoutMs: ms('CLOUDFRONT_TIMEOUT_MS', 'per request', 10_000, 100, 300_000),
  cloudfrontCapacityPollMaxMs: ms('CLOUDFRONT_CAPACITY_POLL_MAX_MS', 'longest pause between ListInvalidations polls while waiting for capacity', 10_000, 10, 600_000),
  // The {cdn} hash tag keeps the outbox and its dead-letter stream in one Cluster slot (one MULTI).
  outboxStream: field.text({ name: 'CDN_OUTBOX_STREAM', description: 'in Redis Cluster it must share a `{hash tag}` with the dead-letter stream', default: 'cdc:{cdn}:outbox' }),
  deadLetterStream: field.text({ name: 'CDN_DEAD_LETTER_STREAM', description: 'dead-letter stream', defaultDoc: '`<stream>:dead`' }),
  group: field.text({ name: 'CDN_CONSUMER_GROUP', description: 'consumer group of the purge workers', default: 'cdn-purgers' }),
  consumer: field.text({ name: 'CDN_CONSUMER_NAME', description: 'set to the pod name in a StatefulSet', defaultDoc: '`<hostname>-<pid>`' }),
  waitReplicas: field.integer({ name: 'CDN_OUTBOX_WAIT_REPLICAS', description: 'Redis `WAIT` after each append: replicas', default: 0, min: 0, max: 100 }),
  waitTimeoutMs: ms('CDN_OUTBOX_WAIT_TIMEOUT_MS', 'Redis `WAIT` after each append: timeout', 1000, 1, 60_000),
  maxPurgesPerEntry: field.integer({ name: 'CDN_MAX_PURGES_PER_ENTRY', description: 'larger batches use several entries', default: 1000, min: 1, max: 100_000 }),
  coalesceMs: ms('CDN_COALESCE_MS', 'how long a target collects entries before it plans requests', 100, 0, 60_000),
  maxAttempts: field.integer({ name: 'CDN_MAX_ATTEMPTS', description: 'provider attempts per request before its entries are dead-lettered', default: 10, min: 1, max: 1000 }),
  retryInitialMs: ms('CDN_RETRY_INITIAL_MS', 'first retry delay', 200, 1, 60_000),
  retryMaxMs: ms('CDN_RETRY_MAX_MS', 'longest retry delay', 30_000, 1, 3_600_000),
  collapseThreshold: field.integer({ name: 'CDN_COLLAPSE_THRESHOLD', description: 'more paths under one directory collapse into one wildcard; 0 disables', default: 100, min: 0, max: 1_000_000 }),
  claimMinIdleMs: ms('CDN_CLAIM_MIN_IDLE_MS', "how long a dead worker's entries wait before another takes them", 60_000, 100, 86_400_000),
  readCount: field.integer({ name: 'CDN_READ_COUNT', description: 'entries read per XREADGROUP', default: 500, min: 1, max: 10_000 }),
  maxInFlightEntries: field.integer({ name: 'CDN_MAX_IN_FLIGHT_ENTRIES', description: 'entries held in memory at once', default: 5000, min: 1, max: 1_000_000 }),
  requestConcurrency: field.integer({ name: 'CDN_REQUEST_CONCURRENCY', description: 'concurrent provider requests per target', default: 4, min: 1, max: 256 }),
};

/** A per-target option (`?rate=50`): checked like the variable it overrides, named `VAR (alias?key)`. */
function option(problems: string[], name: string, entry: AliasEntry, key: string, fallback: number, parse: (v: string) => number): number {
  const raw = entry.options.get(key);
  if (raw === null) return fallback;
  try {
    return parse(raw);
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    problems.push(`${name} (${entry.alias}?${key})=${JSON.stringify(raw)}: ${err.message}`);
    return fallback;
  }
}

/** The CDN configuration from the environment, read once at boot; every bad variable named. */
export const CDN_CONFIG: ConfigSpec<CdnConfig> = defineConfig('CDN', CDN_FIELDS, (v, problems, env) => {
  const f = CDN_FIELDS;
  let cloudflare: CloudflareConfig | undefined;
  const zones = v.cloudflareZones ?? [];
  // A refused CLOUDFLARE_ZONES is still "set": the token is still required with it.
  const zonesSet = (env.CLOUDFLARE_ZONES ?? '').trim() !== '';
  if (zonesSet || v.cloudflareApiToken) {
    if (!v.cloudflareApiToken) problems.push('CLOUDFLARE_API_TOKEN: required when CLOUDFLARE_ZONES is set');
    if (!zonesSet) problems.push('CLOUDFLARE_ZONES: required when CLOUDFLARE_API_TOKEN is set (alias=zone_id,...)');
    const burst = v.cloudflareBurst ?? Math.max(1, Math.floor(v.cloudflareRate * 5));
    const zoneMap = new Map<string, CloudflareZoneConfig>();
    for (const z of zones) {
      const o = (key: string, fallback: number, parse: (raw: string) => number) => option(problems, 'CLOUDFLARE_ZONES', z, key, fallback, parse);
      const rate = o('rate', v.cloudflareRate, f.cloudflareRate.parse);
      zoneMap.set(z.alias, {
        alias: z.alias,
        zoneId: z.id,
        maxUrlsPerRequest: o('urls', v.cloudflareMaxUrls, f.cloudflareMaxUrls.parse),
        maxItemsPerRequest: o('items', v.cloudflareMaxItems, f.cloudflareMaxItems.parse),
        ratePerSec: rate,
        burst: o('burst', z.options.has('rate') ? Math.max(1, Math.floor(rate * 5)) : burst, (raw) => f.cloudflareBurst.parse(raw) ?? burst),
      });
    }
    cloudflare = { apiUrl: v.cloudflareApiUrl.replace(/\/+$/, ''), apiToken: v.cloudflareApiToken ?? '', timeoutMs: v.cloudflareTimeoutMs, zones: zoneMap };
  }

  let cloudfront: CloudFrontConfig | undefined;
  const dists = v.cloudfrontDistributions ?? [];
  if (dists.length > 0) {
    const burst = v.cloudfrontBurst ?? Math.max(1, Math.ceil(v.cloudfrontRate * 2));
    const distMap = new Map<string, CloudFrontDistributionConfig>();
    for (const d of dists) {
      const o = (key: string, fallback: number, parse: (raw: string) => number) => option(problems, 'CLOUDFRONT_DISTRIBUTIONS', d, key, fallback, parse);
      distMap.set(d.alias, {
        alias: d.alias,
        distributionId: d.id,
        maxPathsPerRequest: o('paths', v.cloudfrontMaxPaths, f.cloudfrontMaxPaths.parse),
        maxWildcardsPerRequest: o('wildcards', v.cloudfrontMaxWildcards, f.cloudfrontMaxWildcards.parse),
        ratePerSec: o('rate', v.cloudfrontRate, f.cloudfrontRate.parse),
        burst: o('burst', burst, (raw) => f.cloudfrontBurst.parse(raw) ?? burst),
      });
    }
    cloudfront = {
      endpoint: v.cloudfrontEndpoint?.replace(/\/+$/, ''),
      region: v.awsRegion,
      timeoutMs: v.cloudfrontTimeoutMs,
      capacityPollMaxMs: v.cloudfrontCapacityPollMaxMs,
      distributions: distMap,
    };
  }

  const outbox: OutboxConfig = {
    stream: v.outboxStream,
    deadLetterStream: v.deadLetterStream ?? `${v.outboxStream}:dead`,
    group: v.group,
    consumer: v.consumer ?? `${hostname()}-${process.pid}`,
    waitReplicas: v.waitReplicas,
    waitTimeoutMs: v.waitTimeoutMs,
    maxPurgesPerEntry: v.maxPurgesPerEntry,
  };
  if (outbox.deadLetterStream === outbox.stream) problems.push('CDN_DEAD_LETTER_STREAM: must differ from CDN_OUTBOX_STREAM');

  const worker: PurgeWorkerConfig = {
    coalesceMs: v.coalesceMs,
    maxAttempts: v.maxAttempts,
    retryInitialMs: v.retryInitialMs,
    retryMaxMs: v.retryMaxMs,
    collapseThreshold: v.collapseThreshold,
    claimMinIdleMs: v.claimMinIdleMs,
    readCount: v.readCount,
    maxInFlightEntries: v.maxInFlightEntries,
    requestConcurrency: v.requestConcurrency,
  };
  return { cloudflare, cloudfront, outbox, worker };
});

/** Reads the CDN configuration; throws ConfigError naming every bad variable. */
export function cdnConfigFromEnv(env: Env = process.env): CdnConfig {
  return parseConfig(CDN_CONFIG, env);
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
