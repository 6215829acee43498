import type Redis from 'ioredis';
import { isReservedKey } from '@cdc/protocol';
import { RedisClient, isClusterClient, toRedisSinkError } from '@cdc/sink-redis';

/** What one pattern of a manual invalidation matches, found with SCAN (read-only). */
export interface PatternMatches {
  readonly pattern: string;
  /** Matching keys, at most `cap`. */
  readonly keys: readonly string[];
  /** The scan stopped at the cap: more keys match than `keys` holds. */
  readonly capped: boolean;
  /** Matching keys left out because they are the worker's or the clients' own state (the reserved `cdc:` prefix). */
  readonly reservedSkipped: number;
}

const SCAN_COUNT = 1000;

/**
 * SCAN MATCH on every master (a Cluster spreads keys over masters) until `cap` keys are
 * found. The admin API deletes exactly these keys, so an operator's pattern can never
 * delete more than the configured cap, and the answer can say where it stopped. Keys under
 * the reserved prefix (dead letters, CDN outbox, tag sets, leases) are never returned.
 */
export async function scanPattern(client: RedisClient, pattern: string, cap: number): Promise<PatternMatches> {
  const nodes: Redis[] = isClusterClient(client) ? client.nodes('master') : [client];
  const keys: string[] = [];
  let reservedSkipped = 0;
  let capped = false;
  for (const node of nodes) {
    let cursor = '0';
    do {
      let page: [string, string[]];
      try {
        page = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      } catch (err) {
        throw toRedisSinkError(err, `scanning for pattern ${pattern}`);
      }
      cursor = page[0];
      for (const key of page[1]) {
        if (isReservedKey(key)) {
          reservedSkipped++;
          continue;
        }
        if (keys.length >= cap) {
          capped = true;
          break;
        }
        keys.push(key);
      }
    } while (cursor !== '0' && !capped);
    if (capped) break;
  }
  return { pattern, keys, capped, reservedSkipped };
}
