import { ChangeEvent, Clock, Logger, ThrottleStats } from '@cdc/core';
import { CursorStore } from './cursor-store';

export interface BackfillProgress {
  /** Rows handled so far, including those of the run this one resumed. */
  readonly done: number;
  /** Rows expected: count(*) with a `where`, else pg_class.reltuples (never below `done`). */
  readonly total: number;
  /** Rate of this run so far. */
  readonly rowsPerSec: number;
  /** Seconds left at that rate; undefined until there is a rate. */
  readonly etaSeconds: number | undefined;
  readonly pages: number;
}

export interface BackfillOptions {
  readonly connectionString: string;
  /** `schema.table` (`table` alone means `public.table`). */
  readonly table: string;
  /**
   * SQL condition selecting the rows, e.g. `updated_at > now() - interval '1 day'`.
   * Trusted operator input: it is pasted into the query as SQL, never built from
   * user-facing data (see docs/backfill.md). The session is read-only regardless.
   */
  readonly where?: string;
  /** Rows per page. Default 1000. */
  readonly batchSize?: number;
  /** Throttle in rows per second (token bucket, bursts of at most one page). Default: none. */
  readonly ratePerSec?: number;
  /**
   * Dry run: pages are read and `handle` is still called, so the caller can print or
   * count what would be invalidated; deciding not to invalidate is the caller's (the
   * handle it passes). The backfill itself never saves or clears the cursor in a dry run.
   */
  readonly dryRun?: boolean;
  /** Ignore (and overwrite) a saved cursor: start from the first row. Default false. */
  readonly fresh?: boolean;
  readonly cursorStore: CursorStore;
  /**
   * Applies one page of snapshot events, in key order. Resolve only once their
   * invalidations are done: the cursor moves past the page when this resolves. A throw
   * stops the backfill; the cursor stays before the page, so a rerun retries it.
   */
  handle(events: ChangeEvent[]): Promise<void>;
  /** Called after every page. */
  onProgress?(progress: BackfillProgress): void;
  /** Stops between pages (or during a throttle wait); the summary says `completed: false`. */
  readonly signal?: AbortSignal;
  /** Injected time for tests. Default: the wall clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface BackfillSummary {
  /** `schema.table`. */
  readonly table: string;
  /** Rows handled by this run. */
  readonly rows: number;
  readonly pages: number;
  readonly seconds: number;
  /** Key of the last row a previous run had completed, when this run resumed. */
  readonly resumedFrom: readonly unknown[] | undefined;
  /** False when stopped by the signal before the last row. */
  readonly completed: boolean;
  readonly throttle: ThrottleStats;
}
