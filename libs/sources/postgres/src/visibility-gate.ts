import { TransientError, backoffDelay, childLogger, errorMessage, redactUrl, sleep } from '@cdc/core';
import { Client } from 'pg';
import { sourceMetrics as m } from './source-metrics';
import { XidSnapshot, parseSnapshot, xidVisibility } from './xid-snapshot';

/**
 * Poll delays while a transaction is not visible yet: 1 ms for the first 50 polls (a
 * synchronous standby on a LAN answers within a few ms; every ms waited is commit → cache
 * latency), then 10 ms (a standby that stalls should not have us poll 1000 times a second).
 */
const POLL_FAST_MS = 1;
const POLL_FAST_COUNT = 50;
const POLL_SLOW_MS = 10;
/** A wait this long is logged (a synchronous standby that does not answer holds commits back). */
const SLOW_WAIT_MS = 1_000;

/**
 * Holds a batch back until every transaction in it is visible to new snapshots.
 *
 * Postgres writes and flushes a commit record, then (synchronous_commit with a synchronous
 * standby) waits for the standby, and only then removes the transaction from the proc array,
 * which is what makes it visible. The walsender decodes and sends a commit as soon as it is
 * flushed, so the worker can receive it, delete the cache entry, and a reader that misses
 * right after still reads the old row and fills the cache with it. Checking each batch's
 * xids against a fresh `pg_current_snapshot()` on a regular connection closes that window:
 * once the check passes, every snapshot taken afterwards (the readers' included) sees them.
 *
 * Cost: one round trip per batch that has a transaction newer than the last snapshot seen
 * (a snapshot's verdict never expires: visible stays visible); when draining a backlog, one
 * snapshot answers for many batches. Waiting holds the read, so events pile up in the
 * source's bounded buffer and the socket is paused as usual.
 */
export class VisibilityGate {
  private readonly log = childLogger('source-postgres');
  private client: Client | undefined;
  private last: XidSnapshot | undefined;
  private closed = false;

  constructor(private readonly connectionString: string) {}

  /** Opens the connection and takes one snapshot, so a server without pg_current_snapshot (< 13) fails at start. */
  async open(): Promise<void> {
    this.closed = false; // a start() retried after a failed one opens again
    try {
      await this.snapshot();
    } catch (err) {
      await this.disconnect();
      throw new TransientError(`cannot check transaction visibility on ${redactUrl(this.connectionString)}: ${errorMessage(err)}`, err);
    }
  }

  /**
   * Resolves true once every xid (32-bit, as pgoutput sends them) is visible to a new
   * snapshot, false when `cancelled()` turned true first (stop, or a new replication
   * generation). Query errors are retried with backoff: the replication connection notices
   * a lost server too.
   */
  async waitUntilVisible(xids: readonly number[], cancelled: () => boolean): Promise<boolean> {
    if (xids.length === 0 || (this.last && this.allVisible(xids, this.last))) return true;
    const started = Date.now();
    let polls = 0;
    let errors = 0;
    let warnedAt = started;
    for (;;) {
      if (cancelled()) return false;
      try {
        const snapshot = await this.snapshot();
        errors = 0;
        if (this.allVisible(xids, snapshot)) {
          if (polls > 0) m.visibilityWaitSeconds.inc({ source: 'postgres' }, (Date.now() - started) / 1000);
          return true;
        }
      } catch (err) {
        errors++;
        await this.disconnect();
        this.log.warn({ err: errorMessage(err), url: redactUrl(this.connectionString), attempt: errors }, 'visibility check failed; retrying');
        await sleep(backoffDelay(errors, 50, 2_000));
        continue;
      }
      if (Date.now() - warnedAt >= SLOW_WAIT_MS * (warnedAt === started ? 1 : 10)) {
        warnedAt = Date.now();
        this.log.warn(
          { waitedMs: warnedAt - started, xids: xids.slice(0, 10) },
          'committed transactions are not visible yet (a synchronous standby not answering?): holding their invalidations back',
        );
      }
      if (polls === 0) {
        m.visibilityWaits.inc({ source: 'postgres' });
        // Without a synchronous standby the commit is usually microseconds from visible: ask again at once.
        polls++;
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await sleep(polls++ < POLL_FAST_COUNT ? POLL_FAST_MS : POLL_SLOW_MS);
    }
  }

  /** Closes the connection; nothing reconnects until `open()` (the source stopped or failed). */
  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private allVisible(xids: readonly number[], snapshot: XidSnapshot): boolean {
    // 'newer' (assigned after this snapshot) needs a fresher snapshot: not visible yet for us.
    return xids.every((xid) => xidVisibility(xid, snapshot) === 'visible');
  }

  private async snapshot(): Promise<XidSnapshot> {
    if (this.closed) throw new Error('visibility gate closed');
    if (!this.client) {
      const client = new Client({ connectionString: this.connectionString, application_name: 'cdc-invalidator-visibility', connectionTimeoutMillis: 10_000 });
      client.on('error', () => undefined); // surfaces through the next query
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        throw new Error('visibility gate closed');
      }
      this.client = client;
    }
    const { rows } = await this.client.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s');
    const snapshot = parseSnapshot(rows[0].s);
    this.last = snapshot;
    return snapshot;
  }
}
