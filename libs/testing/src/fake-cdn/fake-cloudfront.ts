import { randomBytes, randomUUID } from 'node:crypto';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { FakeRateLimiter, FaultInjector, SocketTracker, readBody } from './fault-injector';

/**
 * An in-process stand-in for the CloudFront invalidation REST-XML API (2020-05-31), enough
 * for @aws-sdk/client-cloudfront pointed at it with `endpoint`:
 *   POST /2020-05-31/distribution/{Id}/invalidation          CreateInvalidation (201 + Location)
 *   GET  /2020-05-31/distribution/{Id}/invalidation/{InvId}  GetInvalidation
 *   GET  /2020-05-31/distribution/{Id}/invalidation          ListInvalidations
 * It keeps the documented semantics the purge worker depends on: paths start with `/` and
 * `*` may only end them; at most 3,000 paths and 15 wildcard paths in progress per
 * distribution (TooManyInvalidationsInProgress); BatchTooLarge for an oversized batch;
 * invalidations complete after `completeAfterMs`; a repeated CallerReference with the same
 * paths returns the existing invalidation, with other paths InvalidationBatchAlreadyExists;
 * an optional rate limit answered with `Throttling`. Errors use the AWS XML ErrorResponse.
 * The SigV4 signature is not verified, only that a signed Authorization header is present
 * (and names the expected access key when one is configured).
 */
export interface FakeCloudFrontOptions {
  /** Distribution ids that exist; undefined accepts any. */
  distributions?: readonly string[];
  /** Invalidations stay InProgress this long (default 1000 ms). */
  completeAfterMs?: number;
  maxPathsInProgress?: number;
  maxWildcardPathsInProgress?: number;
  /** Paths per CreateInvalidation before BatchTooLarge (3,000). */
  maxPathsPerBatch?: number;
  /** CreateInvalidation calls per second per distribution before Throttling (undefined: none). */
  ratePerSec?: number;
  /** When set, the Authorization header must name this access key id. */
  accessKeyId?: string;
}

export interface FakeInvalidation {
  readonly id: string;
  readonly distributionId: string;
  readonly callerReference: string;
  readonly paths: readonly string[];
  readonly createdAt: number;
}

export interface CloudFrontRecordedRequest {
  readonly at: number;
  readonly operation: 'CreateInvalidation' | 'GetInvalidation' | 'ListInvalidations' | 'Unknown';
  readonly distributionId: string;
  readonly authorization: string | undefined;
  readonly callerReference?: string;
  readonly paths?: readonly string[];
  status: number;
  errorCode?: string;
}

const NS = 'http://cloudfront.amazonaws.com/doc/2020-05-31/';

export class FakeCloudFront {
  readonly faults = new FaultInjector();
  readonly requests: CloudFrontRecordedRequest[] = [];
  private readonly invalidationsByDist = new Map<string, FakeInvalidation[]>();
  private readonly server: Server;
  private readonly sockets = new SocketTracker();
  private readonly limiter?: FakeRateLimiter;
  private readonly opts: Required<Omit<FakeCloudFrontOptions, 'distributions' | 'ratePerSec' | 'accessKeyId'>> & FakeCloudFrontOptions;
  port = 0;

  private constructor(opts: FakeCloudFrontOptions) {
    this.opts = { completeAfterMs: 1000, maxPathsInProgress: 3000, maxWildcardPathsInProgress: 15, maxPathsPerBatch: 3000, ...opts };
    this.server = createServer((req, res) => void this.handle(req, res));
    this.sockets.attach(this.server);
    if (opts.ratePerSec) this.limiter = new FakeRateLimiter(opts.ratePerSec, opts.ratePerSec);
  }

  static async start(opts: FakeCloudFrontOptions = {}): Promise<FakeCloudFront> {
    const fake = new FakeCloudFront(opts);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', () => resolve()));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** Endpoint to configure as CLOUDFRONT_ENDPOINT. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Invalidations created (each CallerReference once). */
  invalidations(distributionId?: string): FakeInvalidation[] {
    if (distributionId) return [...(this.invalidationsByDist.get(distributionId) ?? [])];
    return [...this.invalidationsByDist.values()].flat();
  }

  /** Every path of every created invalidation of a distribution. */
  invalidatedPaths(distributionId: string): Set<string> {
    return new Set(this.invalidations(distributionId).flatMap((i) => i.paths));
  }

  async stop(): Promise<void> {
    this.faults.release();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.sockets.destroyAll();
    });
  }

  private inProgress(distributionId: string, now = Date.now()): FakeInvalidation[] {
    return (this.invalidationsByDist.get(distributionId) ?? []).filter((i) => now - i.createdAt < this.opts.completeAfterMs);
  }

  private status(inv: FakeInvalidation): 'InProgress' | 'Completed' {
    return Date.now() - inv.createdAt < this.opts.completeAfterMs ? 'InProgress' : 'Completed';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation(?:\/([^/]+))?$/.exec(url.pathname);
    const distributionId = m ? decodeURIComponent(m[1]) : '';
    const invalidationId = m?.[2] ? decodeURIComponent(m[2]) : undefined;
    const operation: CloudFrontRecordedRequest['operation'] = !m
      ? 'Unknown'
      : req.method === 'POST' && !invalidationId
        ? 'CreateInvalidation'
        : req.method === 'GET' && invalidationId
          ? 'GetInvalidation'
          : req.method === 'GET'
            ? 'ListInvalidations'
            : 'Unknown';
    const batch = operation === 'CreateInvalidation' ? parseBatch(raw) : undefined;
    const record: CloudFrontRecordedRequest = {
      at: Date.now(),
      operation,
      distributionId,
      authorization: req.headers.authorization,
      callerReference: batch?.callerReference,
      paths: batch?.paths,
      status: 0,
    };
    this.requests.push(record);

    const { finished, failure } = this.faults.takeRequestFailure(req, record);
    if (finished) return;
    if (failure?.kind === 'hang') {
      record.status = -2;
      return;
    }
    const reply: Reply = failure?.kind === 'status'
      ? errorReply(failure.status, 'ServiceUnavailable', 'CloudFront is unavailable', 'Receiver')
      : this.process(req, operation, distributionId, invalidationId, url, batch);
    record.status = reply.status;
    record.errorCode = reply.errorCode;
    await this.faults.beforeResponse(res);
    if (res.destroyed) return;
    res.writeHead(reply.status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID(), ...reply.headers });
    res.end(reply.body);
  }

  private process(
    req: IncomingMessage,
    operation: CloudFrontRecordedRequest['operation'],
    distributionId: string,
    invalidationId: string | undefined,
    url: URL,
    batch: ParsedBatch | undefined,
  ): Reply {
    const auth = req.headers.authorization;
    if (!auth || !auth.startsWith('AWS4-HMAC-SHA256 ')) {
      return errorReply(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    if (this.opts.accessKeyId && !auth.includes(`Credential=${this.opts.accessKeyId}/`)) {
      return errorReply(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (operation === 'Unknown') return errorReply(404, 'UnknownOperation', 'Unknown operation');
    if (this.opts.distributions && !this.opts.distributions.includes(distributionId)) {
      return errorReply(404, 'NoSuchDistribution', 'The specified distribution does not exist.');
    }
    if (operation === 'GetInvalidation') {
      const inv = (this.invalidationsByDist.get(distributionId) ?? []).find((i) => i.id === invalidationId);
      if (!inv) return errorReply(404, 'NoSuchInvalidation', 'The specified invalidation does not exist.');
      return { status: 200, body: xmlDoc(invalidationXml(inv, this.status(inv))) };
    }
    if (operation === 'ListInvalidations') {
      const maxItems = Math.max(1, Number(url.searchParams.get('MaxItems') ?? 100));
      const marker = url.searchParams.get('Marker') ?? '';
      // Newest first, like the real API.
      const all = [...(this.invalidationsByDist.get(distributionId) ?? [])].reverse();
      const start = marker ? all.findIndex((i) => i.id === marker) + 1 : 0;
      const page = all.slice(start, start + maxItems);
      const truncated = start + maxItems < all.length;
      const items = page
        .map((i) => `<InvalidationSummary><Id>${i.id}</Id><CreateTime>${new Date(i.createdAt).toISOString()}</CreateTime><Status>${this.status(i)}</Status></InvalidationSummary>`)
        .join('');
      const body =
        `<InvalidationList xmlns="${NS}"><Marker>${esc(marker)}</Marker>` +
        (truncated ? `<NextMarker>${page[page.length - 1].id}</NextMarker>` : '') +
        `<MaxItems>${maxItems}</MaxItems><IsTruncated>${truncated}</IsTruncated><Quantity>${page.length}</Quantity>` +
        (page.length ? `<Items>${items}</Items>` : '') +
        `</InvalidationList>`;
      return { status: 200, body: xmlDoc(body) };
    }
    // CreateInvalidation
    if (this.limiter && this.limiter.take(distributionId) > 0) return errorReply(400, 'Throttling', 'Rate exceeded');
    if (!batch || !batch.callerReference) return errorReply(400, 'MissingBody', 'This operation requires a body with an InvalidationBatch.');
    if (batch.quantity !== batch.paths.length) {
      return errorReply(400, 'InconsistentQuantities', 'The value of Quantity and the size of Items don\'t match.');
    }
    if (batch.paths.length === 0) return errorReply(400, 'InvalidArgument', 'Paths must contain at least one path.');
    for (const p of batch.paths) {
      if (!p.startsWith('/')) return errorReply(400, 'InvalidArgument', `Your request contains one or more invalid invalidation paths: ${p}`);
      const star = p.indexOf('*');
      if (star !== -1 && star !== p.length - 1) return errorReply(400, 'InvalidArgument', `The * wildcard may only end a path: ${p}`);
    }
    const existing = (this.invalidationsByDist.get(distributionId) ?? []).find((i) => i.callerReference === batch.callerReference);
    if (existing) {
      if (sameSet(existing.paths, batch.paths)) return this.created(existing);
      return errorReply(409, 'InvalidationBatchAlreadyExists', 'The CallerReference you attempted to create the invalidation with is already in use.');
    }
    if (batch.paths.length > this.opts.maxPathsPerBatch) return errorReply(413, 'BatchTooLarge', 'Invalidation batch specified is too large.');
    const inProgress = this.inProgress(distributionId);
    const wildcards = (paths: readonly string[]): number => paths.filter((p) => p.endsWith('*')).length;
    const busyWildcards = inProgress.reduce((n, i) => n + wildcards(i.paths), 0);
    const busyPaths = inProgress.reduce((n, i) => n + i.paths.length - wildcards(i.paths), 0);
    const newWildcards = wildcards(batch.paths);
    if (
      busyWildcards + newWildcards > this.opts.maxWildcardPathsInProgress ||
      busyPaths + (batch.paths.length - newWildcards) > this.opts.maxPathsInProgress
    ) {
      return errorReply(400, 'TooManyInvalidationsInProgress', 'Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.');
    }
    const inv: FakeInvalidation = {
      id: `I${randomBytes(6).toString('hex').toUpperCase()}`,
      distributionId,
      callerReference: batch.callerReference,
      paths: batch.paths,
      createdAt: Date.now(),
    };
    let list = this.invalidationsByDist.get(distributionId);
    if (!list) this.invalidationsByDist.set(distributionId, (list = []));
    list.push(inv);
    return this.created(inv);
  }

  private created(inv: FakeInvalidation): Reply {
    return {
      status: 201,
      headers: { location: `${this.url}/2020-05-31/distribution/${inv.distributionId}/invalidation/${inv.id}` },
      body: xmlDoc(invalidationXml(inv, this.status(inv))),
    };
  }
}

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
  errorCode?: string;
}

interface ParsedBatch {
  callerReference: string;
  quantity: number;
  paths: string[];
}

/** Just enough XML reading for the InvalidationBatch document the SDK sends. */
function parseBatch(xml: string): ParsedBatch | undefined {
  if (!xml.includes('<InvalidationBatch')) return undefined;
  const ref = /<CallerReference>([\s\S]*?)<\/CallerReference>/.exec(xml)?.[1] ?? '';
  const quantity = Number(/<Quantity>(\d+)<\/Quantity>/.exec(xml)?.[1] ?? NaN);
  const paths = [...xml.matchAll(/<Path>([\s\S]*?)<\/Path>/g)].map((m) => unesc(m[1]));
  return { callerReference: unesc(ref), quantity, paths };
}

function invalidationXml(inv: FakeInvalidation, status: string): string {
  return (
    `<Invalidation xmlns="${NS}"><Id>${inv.id}</Id><Status>${status}</Status><CreateTime>${new Date(inv.createdAt).toISOString()}</CreateTime>` +
    `<InvalidationBatch><Paths><Quantity>${inv.paths.length}</Quantity><Items>${inv.paths.map((p) => `<Path>${esc(p)}</Path>`).join('')}</Items></Paths>` +
    `<CallerReference>${esc(inv.callerReference)}</CallerReference></InvalidationBatch></Invalidation>`
  );
}

function errorReply(status: number, code: string, message: string, type: 'Sender' | 'Receiver' = 'Sender'): Reply {
  return {
    status,
    errorCode: code,
    body: xmlDoc(`<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`),
  };
}

function xmlDoc(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function unesc(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
