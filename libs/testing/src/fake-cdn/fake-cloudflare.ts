import { randomBytes } from 'node:crypto';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { FakeRateLimiter, FaultInjector, SocketTracker, readBody } from './fault-injector';

/**
 * An in-process stand-in for Cloudflare's `POST /client/v4/zones/{zone_id}/purge_cache`,
 * shaped after the documented API: Bearer token, one body variant per request
 * (files | tags | hosts | prefixes | purge_everything), per-request item limits, a
 * token-bucket rate limit answered with 429 + Retry-After, and the v4 envelope
 * `{success, errors:[{code,message}], messages, result}`. Every request is recorded.
 *
 * Error codes 10000 (authentication), 7003 (unknown zone), 1012 (missing variant) and 971
 * (throttled) follow what the real API returns; the codes for "too many items" are modelled.
 */
export interface FakeCloudflareOptions {
  /** The token a request must carry as `Authorization: Bearer <token>`. */
  token: string;
  /** Zone ids that exist; undefined accepts any 32-hex-ish id. */
  zones?: readonly string[];
  /** Requests per second per zone before 429 (undefined: no rate limit). */
  ratePerSec?: number;
  /** Bucket size; default = ratePerSec. */
  burst?: number;
  /** URLs per request (30 below Enterprise, 500 Enterprise). */
  maxUrlsPerRequest?: number;
  /** Tags / hosts / prefixes per request (100). */
  maxItemsPerRequest?: number;
}

export type FakeCloudflareFile = string | { url: string; headers?: Record<string, string> };

export interface CloudflareRecordedRequest {
  readonly at: number;
  readonly zoneId: string;
  readonly authorization: string | undefined;
  readonly body: unknown;
  status: number;
  errorCode?: number;
}

export const CF_ERROR = {
  authMissing: 10001,
  authInvalid: 10000,
  unknownZone: 7003,
  missingVariant: 1012,
  tooManyFiles: 1019,
  tooManyItems: 1020,
  badJson: 1013,
  throttled: 971,
  internal: 10013,
} as const;

export class FakeCloudflare {
  readonly faults = new FaultInjector();
  readonly requests: CloudflareRecordedRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new SocketTracker();
  private readonly limiter?: FakeRateLimiter;
  private readonly purged = new Map<string, Set<string>>();
  port = 0;

  private constructor(private readonly opts: FakeCloudflareOptions) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.sockets.attach(this.server);
    if (opts.ratePerSec) this.limiter = new FakeRateLimiter(opts.ratePerSec, opts.burst ?? opts.ratePerSec);
  }

  static async start(opts: FakeCloudflareOptions, port = 0): Promise<FakeCloudflare> {
    const fake = new FakeCloudflare(opts);
    await fake.listen(port);
    return fake;
  }

  /** Base URL to configure as CLOUDFLARE_API_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Values successfully purged for a zone and kind ('files' holds URLs, headers dropped). */
  purgedValues(zoneId: string, kind: 'files' | 'tags' | 'hosts' | 'prefixes'): Set<string> {
    return this.purged.get(`${zoneId}\u0000${kind}`) ?? new Set();
  }

  /** Requests that got a 2xx answer. */
  get successfulRequests(): CloudflareRecordedRequest[] {
    return this.requests.filter((r) => r.status === 200);
  }

  /** Takes the server down (connections refused) until `resume()`. */
  async pause(): Promise<void> {
    await this.close();
  }

  async resume(): Promise<void> {
    await this.listen(this.port);
  }

  async stop(): Promise<void> {
    this.faults.release();
    await this.close();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.sockets.destroyAll();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const match = /^\/client\/v4\/zones\/([^/]+)\/purge_cache$/.exec(req.url ?? '');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const record: CloudflareRecordedRequest = {
      at: Date.now(),
      zoneId: match?.[1] ?? '',
      authorization: req.headers.authorization,
      body,
      status: 0,
    };
    this.requests.push(record);

    const { finished, failure } = this.faults.takeRequestFailure(req, record);
    if (finished) return;

    const [status, payload, extraHeaders] = failure?.kind === 'status'
      ? [failure.status, envelopeError(CF_ERROR.internal, 'Internal Server Error')]
      : this.process(req, match?.[1], body, raw);
    record.status = status;
    if (!(payload as { success: boolean }).success) record.errorCode = (payload as { errors: { code: number }[] }).errors[0]?.code;
    await this.faults.beforeResponse(res);
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', 'cf-ray': randomBytes(8).toString('hex'), ...extraHeaders });
    res.end(JSON.stringify(payload));
  }

  private process(
    req: IncomingMessage,
    zoneId: string | undefined,
    body: unknown,
    raw: string,
  ): [number, object, Record<string, string>?] {
    if (req.method !== 'POST' || !zoneId) return [404, envelopeError(7000, 'No route for that URI')];
    const auth = req.headers.authorization;
    if (!auth) return [401, envelopeError(CF_ERROR.authMissing, 'Missing Authorization header')];
    if (auth !== `Bearer ${this.opts.token}`) return [403, envelopeError(CF_ERROR.authInvalid, 'Authentication error')];
    if (this.opts.zones && !this.opts.zones.includes(zoneId)) {
      return [400, envelopeError(CF_ERROR.unknownZone, `Could not route to /zones/${zoneId}/purge_cache, perhaps your object identifier is invalid?`)];
    }
    if (this.limiter) {
      const waitMs = this.limiter.take(zoneId);
      if (waitMs > 0) {
        return [429, envelopeError(CF_ERROR.throttled, 'Please wait and consider throttling your request speed'), { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) }];
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return [400, envelopeError(CF_ERROR.badJson, `Invalid JSON body: ${raw.slice(0, 40)}`)];
    }
    const b = body as Record<string, unknown>;
    const variants = ['files', 'tags', 'hosts', 'prefixes', 'purge_everything'].filter((k) => b[k] !== undefined);
    if (variants.length !== 1) {
      return [400, envelopeError(CF_ERROR.missingVariant, 'Request must contain one of "purge_everything", "files", "tags", "hosts" or "prefixes"')];
    }
    const kind = variants[0];
    if (kind === 'purge_everything') {
      this.remember(zoneId, 'everything', ['*']);
      return [200, success()];
    }
    const items = b[kind];
    if (!Array.isArray(items) || items.length === 0) {
      return [400, envelopeError(CF_ERROR.missingVariant, `"${kind}" must be a non-empty array`)];
    }
    if (kind === 'files') {
      const max = this.opts.maxUrlsPerRequest ?? 30;
      if (items.length > max) return [400, envelopeError(CF_ERROR.tooManyFiles, `Purge by URL is limited to ${max} files per request; got ${items.length}`)];
      const urls: string[] = [];
      for (const f of items as FakeCloudflareFile[]) {
        const url = typeof f === 'string' ? f : f?.url;
        if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
          return [400, envelopeError(CF_ERROR.badJson, `files entries must be absolute URLs or {url, headers}`)];
        }
        urls.push(url);
      }
      this.remember(zoneId, 'files', urls);
    } else {
      const max = this.opts.maxItemsPerRequest ?? 100;
      if (items.length > max) return [400, envelopeError(CF_ERROR.tooManyItems, `You may purge up to ${max} ${kind} per request; got ${items.length}`)];
      if (!items.every((i) => typeof i === 'string' && i.length > 0)) return [400, envelopeError(CF_ERROR.badJson, `${kind} must be strings`)];
      this.remember(zoneId, kind, items as string[]);
    }
    return [200, success()];
  }

  private remember(zoneId: string, kind: string, values: readonly string[]): void {
    const key = `${zoneId}\u0000${kind}`;
    let set = this.purged.get(key);
    if (!set) this.purged.set(key, (set = new Set()));
    for (const v of values) set.add(v);
  }
}

function envelopeError(code: number, message: string): object {
  return { success: false, errors: [{ code, message }], messages: [], result: null };
}

function success(): object {
  return { success: true, errors: [], messages: [], result: { id: randomBytes(16).toString('hex') } };
}
