import http from 'node:http';
import https from 'node:https';
import axios, { AxiosInstance } from 'axios';
import { CloudflareConfig } from './cdn-config';
import { PurgeError, parseRetryAfter } from './purge-error';
import { PlannedRequest } from './purge-plan';
import { Purger, TargetSettings } from './purger';
import { SecretScrubber, safeErrorSummary } from './redact';

interface CloudflareEnvelope {
  success?: boolean;
  errors?: Array<{ code?: number; message?: string }>;
  result?: { id?: string } | null;
}

/**
 * `POST /client/v4/zones/{zone_id}/purge_cache` over keep-alive connections. Statuses are
 * classified here (validateStatus accepts all, so axios only throws for network errors,
 * and those are reduced to a safe summary before anything else sees them).
 */
export class CloudflarePurger implements Purger {
  readonly provider = 'cloudflare' as const;
  private readonly http: AxiosInstance;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly scrubber: SecretScrubber;

  constructor(private readonly config: CloudflareConfig) {
    this.scrubber = new SecretScrubber([config.apiToken]);
    this.http = axios.create({
      baseURL: config.apiUrl,
      timeout: config.timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      headers: { Authorization: `Bearer ${config.apiToken}`, 'Content-Type': 'application/json' },
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  hasTarget(alias: string): boolean {
    return this.config.zones.has(alias);
  }

  targetSettings(alias: string): TargetSettings {
    const z = this.config.zones.get(alias);
    if (!z) throw new PurgeError(`cloudflare zone alias "${alias}" is not configured`, { failure: 'rejected', code: 'CDN_UNKNOWN_TARGET', metricStatus: 'rejected' });
    return {
      ratePerSec: z.ratePerSec,
      burst: z.burst,
      maxUrlsPerRequest: z.maxUrlsPerRequest,
      maxItemsPerRequest: z.maxItemsPerRequest,
      maxPathsPerRequest: 3000,
      maxWildcardsPerRequest: 15,
    };
  }

  async purge(request: PlannedRequest, signal?: AbortSignal): Promise<void> {
    const zone = this.config.zones.get(request.target);
    if (!zone) throw new PurgeError(`cloudflare zone alias "${request.target}" is not configured`, { failure: 'rejected', code: 'CDN_UNKNOWN_TARGET', metricStatus: 'rejected' });
    const body = requestBody(request);
    let res;
    try {
      res = await this.http.post<CloudflareEnvelope>(`/client/v4/zones/${encodeURIComponent(zone.zoneId)}/purge_cache`, body, { signal });
    } catch (err) {
      const s = safeErrorSummary(err, this.scrubber);
      throw new PurgeError(`cloudflare ${request.target}: request failed: ${s.code ?? s.name}: ${s.message}`, {
        failure: 'transient',
        code: 'CDN_NETWORK',
        metricStatus: s.code === 'ECONNABORTED' || /timeout/i.test(s.message) ? 'timeout' : 'network_error',
      });
    }
    const data = res.data;
    if (res.status >= 200 && res.status < 300 && data?.success === true) return;
    const detail = this.scrubber.scrub(describeErrors(data));
    const where = `cloudflare ${request.target}: HTTP ${res.status}`;
    if (res.status === 429) {
      throw new PurgeError(`${where}: rate limited: ${detail}`, {
        failure: 'rate-limited',
        code: 'CDN_RATE_LIMITED',
        metricStatus: 'rate_limited',
        status: 429,
        retryAfterMs: parseRetryAfter(res.headers['retry-after']),
      });
    }
    if (res.status >= 500 || res.status === 408) {
      throw new PurgeError(`${where}: server error: ${detail}`, { failure: 'transient', code: 'CDN_SERVER', metricStatus: 'server_error', status: res.status });
    }
    if (res.status === 401 || res.status === 403) {
      throw new PurgeError(`${where}: not authorized (check CLOUDFLARE_API_TOKEN and its Cache Purge permission): ${detail}`, {
        failure: 'rejected',
        code: 'CDN_AUTH',
        metricStatus: 'auth_error',
        status: res.status,
      });
    }
    throw new PurgeError(`${where}: rejected: ${detail}`, { failure: 'rejected', code: 'CDN_REJECTED', metricStatus: 'rejected', status: res.status });
  }

  async waitForCapacity(): Promise<void> {
    // Cloudflare has no in-progress limit; rate limits come back as 429.
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The documented body variants: {files: [url | {url, headers}]}, {tags}, {hosts}, {prefixes}. */
export function requestBody(request: PlannedRequest): Record<string, unknown> {
  if (request.kind === 'files') {
    return { files: request.items.map((i) => (i.headers && Object.keys(i.headers).length > 0 ? { url: i.value, headers: i.headers } : i.value)) };
  }
  return { [request.kind]: request.items.map((i) => i.value) };
}

function describeErrors(data: CloudflareEnvelope | undefined): string {
  const errors = data?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return typeof data === 'string' ? String(data).slice(0, 200) : 'no error detail';
  return errors.map((e) => `${e.code ?? '?'} ${e.message ?? ''}`.trim()).join('; ').slice(0, 500);
}
