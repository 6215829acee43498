import { InvalidationBatch } from '@cdc/core';

export interface BatchParts {
  readonly keys?: readonly string[];
  readonly tags?: readonly string[];
  readonly patterns?: readonly string[];
  readonly channels?: readonly string[];
  readonly position?: string;
}

/** An InvalidationBatch as the pipeline would build it from one matching event. */
export function testBatch(parts: BatchParts): InvalidationBatch {
  const batch = new InvalidationBatch();
  batch.addEvent({ op: 'update', schema: 'public', table: 'products', commitTimeMs: Date.now(), position: parts.position ?? '0/1' });
  batch.addMatch({
    rule: 'test',
    keys: parts.keys ?? [],
    tags: parts.tags ?? [],
    patterns: parts.patterns ?? [],
    channels: parts.channels ?? [],
    cdn: [],
    missing: [],
  });
  return batch;
}
