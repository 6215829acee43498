import http from 'node:http';
import https from 'node:https';
import { CloudFrontClient, CreateInvalidationCommand, ListInvalidationsCommand } from '@aws-sdk/client-cloudfront';
import { backoffDelay, sleep } from '@cdc/core';
import { callerReference } from './caller-reference';
import { CloudFrontConfig } from './cdn-config';
import { PurgeError } from './purge-error';
import { PlannedRequest } from './purge-plan';
import { Purger, TargetSettings } from './purger';
import { SecretScrubber, safeErrorSummary } from './redact';

const RATE_LIMIT_CODES = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown']);
const TRANSIENT_CODES = new Set(['ServiceUnavailable', 'InternalFailure', 'InternalError', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError']);
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|ECONNABORTED|EHOSTUNREACH|ERR_HTTP2.*|UND_ERR.*)$/;

/**
 * On Node < 22 the first SDK client built prints a nine-line `NodeVersionSupportWarning`
 * (process.emitWarning, plain text on stderr, once per process: at every worker start), which
 * breaks the one-JSON-object-per-line log. The SDK's documented switch for that warning alone is
 * this variable (@aws-sdk/core `emitWarningIfUnsupportedVersion`); other warnings still print,
 * and an operator who set the variable keeps their value. The image runs Node 24, where the
 * SDK has nothing to say.
 */
function silenceNodeVersionSupportWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/**
 * CreateInvalidation through @aws-sdk/client-cloudfront (credentials from the default
 * chain, endpoint overridable). SDK retries are off: the purge worker owns retries so it
 * can count attempts, honour rate limits and wait for capacity. Every request carries a
 * deterministic CallerReference, so a retried request never creates a second invalidation.
 */
export class CloudFrontPurger implements Purger {
  readonly provider = 'cloudfront' as const;
  private readonly client: CloudFrontClient;
  private readonly scrubber: SecretScrubber;

  constructor(
    private readonly config: CloudFrontConfig,
    env: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    this.scrubber = new SecretScrubber([env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.AWS_ACCESS_KEY_ID]);
    silenceNodeVersionSupportWarning();
    this.client = new CloudFrontClient({
      region: config.region,
      endpoint: config.endpoint,
      maxAttempts: 1,
      requestHandler: {
        requestTimeout: config.timeoutMs,
        throwOnRequestTimeout: true,
        connectionTimeout: Math.min(config.timeoutMs, 5000),
        httpAgent: new http.Agent({ keepAlive: true, maxSockets: 16 }),
        httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 16 }),
      },
    });
  }

  hasTarget(alias: string): boolean {
    return this.config.distributions.has(alias);
  }

  targetSettings(alias: string): TargetSettings {
    const d = this.distribution(alias);
    return {
      ratePerSec: d.ratePerSec,
      burst: d.burst,
      maxUrlsPerRequest: 30,
      maxItemsPerRequest: 100,
      maxPathsPerRequest: d.maxPathsPerRequest,
      maxWildcardsPerRequest: d.maxWildcardsPerRequest,
    };
  }

  async purge(request: PlannedRequest, signal?: AbortSignal): Promise<void> {
    const d = this.distribution(request.target);
    const paths = request.items.map((i) => i.value);
    const ref = callerReference(d.distributionId, paths, request.entryIds);
    try {
      await this.client.send(
        new CreateInvalidationCommand({
          DistributionId: d.distributionId,
          InvalidationBatch: { CallerReference: ref, Paths: { Quantity: paths.length, Items: paths } },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw this.classify(err, `cloudfront ${request.target} (${d.distributionId})`);
    }
  }

  /**
   * Polls ListInvalidations until fewer invalidations are in progress than at the first
   * look (something finished, so the in-progress limits have room) or none are.
   */
  async waitForCapacity(alias: string, signal?: AbortSignal): Promise<void> {
    const d = this.distribution(alias);
    let baseline: number | undefined;
    for (let attempt = 1; !signal?.aborted; attempt++) {
      let inProgress: number | undefined;
      try {
        const out = await this.client.send(new ListInvalidationsCommand({ DistributionId: d.distributionId, MaxItems: 100 }), { abortSignal: signal });
        inProgress = (out.InvalidationList?.Items ?? []).filter((i) => i.Status === 'InProgress').length;
      } catch {
        // Listing is best effort; keep waiting with backoff.
      }
      if (inProgress !== undefined) {
        if (inProgress === 0 || (baseline !== undefined && inProgress < baseline)) return;
        baseline = baseline === undefined ? inProgress : Math.min(baseline, inProgress);
      }
      await sleep(Math.max(50, backoffDelay(attempt, 250, this.config.capacityPollMaxMs)), signal);
    }
  }

  close(): void {
    this.client.destroy();
  }

  private distribution(alias: string) {
    const d = this.config.distributions.get(alias);
    if (!d) throw new PurgeError(`cloudfront distribution alias "${alias}" is not configured`, { failure: 'rejected', code: 'CDN_UNKNOWN_TARGET', metricStatus: 'rejected' });
    return d;
  }

  private classify(err: unknown, where: string): PurgeError {
    const s = safeErrorSummary(err, this.scrubber);
    const code = s.name !== 'Error' ? s.name : (s.code ?? 'Error');
    const msg = `${where}: ${code}${s.status ? ` (HTTP ${s.status})` : ''}: ${s.message}`;
    if (code === 'TooManyInvalidationsInProgress') return new PurgeError(msg, { failure: 'capacity', code: 'CDN_CAPACITY', metricStatus: 'capacity', status: s.status });
    if (RATE_LIMIT_CODES.has(code) || s.status === 429) return new PurgeError(msg, { failure: 'rate-limited', code: 'CDN_RATE_LIMITED', metricStatus: 'rate_limited', status: s.status });
    if (TRANSIENT_CODES.has(code) || (s.status !== undefined && s.status >= 500)) {
      return new PurgeError(msg, { failure: 'transient', code: 'CDN_SERVER', metricStatus: 'server_error', status: s.status });
    }
    if (s.status === undefined) {
      // No HTTP answer: connection refused/reset, timeout, or a client-side problem; retry with backoff.
      const network = NETWORK_CODES.test(s.code ?? '') || NETWORK_CODES.test(code) || /socket|timeout|ECONN|aborted/i.test(s.message);
      return new PurgeError(msg, { failure: 'transient', code: network ? 'CDN_NETWORK' : 'CDN_CLIENT', metricStatus: /timeout/i.test(msg) ? 'timeout' : 'network_error' });
    }
    if (s.status === 401 || s.status === 403) return new PurgeError(msg, { failure: 'rejected', code: 'CDN_AUTH', metricStatus: 'auth_error', status: s.status });
    return new PurgeError(msg, { failure: 'rejected', code: 'CDN_REJECTED', metricStatus: 'rejected', status: s.status });
  }
}
