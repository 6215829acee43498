import { CdnConfig } from './cdn-config';
import { PurgeItem, encodeFields, fieldMap } from './outbox-entry';
import { OutboxRedis } from './outbox-store';

/** A purge the worker gave up on, as an operator sees it. */
export interface CdnDeadLetter {
  /** Id in the dead-letter stream (what re-drive takes). */
  readonly id: string;
  /** Id the entry had in the outbox. */
  readonly originalId: string;
  readonly provider: string;
  readonly target: string;
  readonly purges: readonly PurgeItem[];
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: string;
  readonly position: string;
  /** The raw fields when they could not be decoded (a malformed entry). */
  readonly raw?: Readonly<Record<string, string>>;
}

export interface ListDeadLettersOptions {
  /** At most this many, oldest first (default 100). */
  count?: number;
  /** Start after this dead-letter id (paging). */
  after?: string;
}

type Names = Pick<CdnConfig['outbox'], 'stream' | 'deadLetterStream'>;

function names(config: CdnConfig | Names): Names {
  return 'outbox' in config ? config.outbox : config;
}

/** Lists dead-lettered purges, oldest first. */
export async function listCdnDeadLetters(redis: OutboxRedis, config: CdnConfig | Names, opts: ListDeadLettersOptions = {}): Promise<CdnDeadLetter[]> {
  const start = opts.after ? `(${opts.after}` : '-';
  const rows = await redis.xrange(names(config).deadLetterStream, start, '+', 'COUNT', opts.count ?? 100);
  return rows.map(([id, fields]) => toDeadLetter(id, fields));
}

function toDeadLetter(id: string, fields: string[]): CdnDeadLetter {
  const f = fieldMap(fields);
  let purges: PurgeItem[] = [];
  let decoded = true;
  try {
    const parsed: unknown = JSON.parse(f.get('purges') ?? '[]');
    if (Array.isArray(parsed)) purges = parsed as PurgeItem[];
    else decoded = false;
  } catch {
    decoded = false;
  }
  return {
    id,
    originalId: f.get('originalId') ?? '',
    provider: f.get('provider') ?? '',
    target: f.get('target') ?? '',
    purges,
    error: f.get('error') ?? '',
    attempts: Number(f.get('attempts') ?? 0),
    failedAt: new Date(Number(f.get('failedAtMs') ?? 0)).toISOString(),
    position: f.get('position') ?? '',
    raw: decoded ? undefined : Object.fromEntries(f),
  };
}

export interface RedriveResult {
  /** Dead letters moved back to the outbox. */
  readonly redriven: number;
  /** Requested ids that were not in the dead-letter stream. */
  readonly missing: readonly string[];
}

/**
 * Moves dead letters back into the outbox (a new entry each, marked `redriven`) and removes
 * them from the dead-letter stream, atomically per letter. `all` re-drives everything
 * present when the call starts.
 */
export async function redriveCdnDeadLetters(redis: OutboxRedis, config: CdnConfig | Names, ids: readonly string[] | 'all'): Promise<RedriveResult> {
  const n = names(config);
  let redriven = 0;
  const missing: string[] = [];
  const process = async (id: string, fields: string[]): Promise<void> => {
    const f = fieldMap(fields);
    const outboxFields = encodeFields({
      provider: (f.get('provider') ?? '') as 'cloudflare',
      target: f.get('target') ?? '',
      purges: JSON.parse(f.get('purges') ?? '[]') as PurgeItem[],
      position: f.get('position') ?? '',
      commitTimeMs: Number(f.get('commitTimeMs') ?? 0),
      enqueuedAtMs: Date.now(),
      redriven: true,
    });
    const res = await redis.multi().xadd(n.stream, '*', ...outboxFields).xdel(n.deadLetterStream, id).exec();
    for (const [err] of res ?? []) if (err) throw err;
    redriven++;
  };
  if (ids === 'all') {
    const last = await redis.xrevrange(n.deadLetterStream, '+', '-', 'COUNT', 1);
    if (last.length === 0) return { redriven: 0, missing };
    const end = last[0][0];
    let start = '-';
    for (;;) {
      const rows = await redis.xrange(n.deadLetterStream, start, end, 'COUNT', 500);
      if (rows.length === 0) break;
      for (const [id, fields] of rows) await process(id, fields);
      start = `(${rows[rows.length - 1][0]}`;
    }
    return { redriven, missing };
  }
  for (const id of ids) {
    const rows = await redis.xrange(n.deadLetterStream, id, id);
    if (rows.length === 0) missing.push(id);
    else await process(rows[0][0], rows[0][1]);
  }
  return { redriven, missing };
}
