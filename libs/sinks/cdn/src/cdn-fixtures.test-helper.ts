import { CdnPurge, InvalidationBatch } from '@cdc/core';
import { CdnConfig, cdnConfigFromEnv } from './cdn-config';

/** Test helpers: batches built the way the pipeline builds them, and env-shaped configs. */
export function batchOf(purges: readonly CdnPurge[], opts: { commitTimeMs?: number; position?: string } = {}): InvalidationBatch {
  const batch = new InvalidationBatch();
  batch.addEvent({ op: 'update', schema: 'public', table: 'products', commitTimeMs: opts.commitTimeMs ?? Date.now(), position: opts.position ?? '0/1' });
  batch.addMatch({ rule: 'test', keys: [], tags: [], patterns: [], channels: [], cdn: purges, missing: [] });
  return batch;
}

export function cfFile(value: string, target = 'shop'): CdnPurge {
  return { provider: 'cloudflare', target, kind: 'files', value };
}

export function cfPath(value: string, target = 'web'): CdnPurge {
  return { provider: 'cloudfront', target, kind: 'paths', value };
}

/** Config from an env map with fast test defaults (short windows, quick retries). */
export function testConfig(env: Record<string, string>): CdnConfig {
  return cdnConfigFromEnv({
    CDN_OUTBOX_STREAM: `test:cdn:${Math.random().toString(36).slice(2)}`,
    CDN_COALESCE_MS: '50',
    CDN_RETRY_INITIAL_MS: '20',
    CDN_RETRY_MAX_MS: '200',
    CDN_CLAIM_MIN_IDLE_MS: '1000',
    CLOUDFRONT_CAPACITY_POLL_MAX_MS: '200',
    CLOUDFLARE_TIMEOUT_MS: '2000',
    CLOUDFRONT_TIMEOUT_MS: '2000',
    ...env,
  });
}

export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
