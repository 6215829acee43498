import { createHash } from 'node:crypto';

/**
 * CloudFront CallerReference for one invalidation request: a hash of the distribution,
 * the sorted paths and the sorted outbox entry ids it serves. A retry of the same request
 * (same process, or another worker re-claiming the same entries) sends the same reference,
 * and CloudFront answers with the invalidation it already created instead of a second one.
 */
export function callerReference(distributionId: string, paths: readonly string[], entryIds: readonly string[]): string {
  const h = createHash('sha256');
  h.update(distributionId);
  h.update('\u0000');
  for (const p of [...paths].sort()) h.update(p).update('\n');
  h.update('\u0000');
  for (const id of [...entryIds].sort()) h.update(id).update(',');
  return `cdc-${h.digest('hex').slice(0, 48)}`;
}
