import { Client } from 'pg';
import { ChangeEvent, Clock, ConfigError, Logger, TokenBucket, TransientError, childLogger, errorMessage, nowMs, wallClock } from '@cdc/core';
import { BackfillOptions, BackfillProgress, BackfillSummary } from './backfill-options';
import { BackfillCursor, backfillScope } from './cursor-store';
import { countQuery, pageQuery } from './keyset-query';
import { BACKFILL_SESSION_OPTIONS, RowTypeParsers } from './row-parsers';
import { TableMetadata, readTableMetadata } from './table-metadata';
import { formatTableName, parseTableName } from './table-name';

/**
 * Reads a table page by page in key order and hands each page to `handle` as snapshot
 * events, saving the cursor after each handled page: at-least-once over the rows, and a
 * crashed or stopped backfill resumes after its last completed page. Rows changed while
 * the backfill runs are also seen by the change stream; reading them here too is harmless
 * (invalidation is idempotent).
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillSummary> {
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`batchSize must be a positive integer, got ${batchSize}`, 'BACKFILL_OPTIONS');
  if (options.ratePerSec !== undefined && !(options.ratePerSec > 0)) {
    throw new ConfigError(`ratePerSec must be > 0, got ${options.ratePerSec}`, 'BACKFILL_OPTIONS');
  }
  const name = parseTableName(options.table);
  const clock = options.clock ?? wallClock;
  const parsers = new RowTypeParsers();
  const client = new Client({
    connectionString: options.connectionString,
    application_name: 'cdc-invalidator-backfill',
    types: parsers,
    // Read-only session: whatever `where` says, this connection cannot write.
    options: `${BACKFILL_SESSION_OPTIONS} -c default_transaction_read_only=on`,
  });
  // Without a listener a dropped idle connection would crash the process; the next query reports it instead.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Bad credentials or a missing database will not get better by retrying.
    if (typeof code === 'string' && (code.startsWith('28') || code === '3D000')) {
      throw new ConfigError(`backfill cannot connect to Postgres: ${errorMessage(err)}`, 'BACKFILL_CONNECT');
    }
    throw new TransientError(`backfill cannot connect to Postgres: ${errorMessage(err)}`, err, 'BACKFILL_CONNECT');
  }
  try {
    const meta = await readTableMetadata(client, name);
    parsers.register(meta.columns);
    return await new BackfillRun(options, client, meta, clock, batchSize).run();
  } finally {
    await client.end().catch(() => undefined);
  }
}

class BackfillRun {
  private readonly log: Logger;
  private readonly qualified: string;
  private readonly scope: string;
  private readonly bucket?: TokenBucket;

  constructor(
    private readonly o: BackfillOptions,
    private readonly client: Client,
    private readonly meta: TableMetadata,
    private readonly clock: Clock,
    private readonly batchSize: number,
  ) {
    this.qualified = formatTableName(meta);
    this.scope = backfillScope(this.qualified, o.where);
    this.log = (o.logger ?? childLogger('backfill')).child({ table: this.qualified, scope: this.scope });
    if (o.ratePerSec !== undefined) {
      // Bursts of at most one page, and never more than one second's worth.
      this.bucket = new TokenBucket(o.ratePerSec, Math.min(batchSize, o.ratePerSec), clock);
    }
  }

  async run(): Promise<BackfillSummary> {
    const started = this.clock.now();
    const saved = this.o.fresh ? undefined : await this.o.cursorStore.load(this.scope);
    if (saved && !sameColumns(saved.keyColumns, this.meta.keyColumns)) {
      throw new ConfigError(
        `saved backfill cursor for ${this.qualified} is over key (${saved.keyColumns.join(', ')}) but the table's key is ` +
          `(${this.meta.keyColumns.join(', ')}); start a fresh backfill`,
        'BACKFILL_CURSOR',
      );
    }
    const estimate = await this.estimateRows();
    this.log.info(
      { keyColumns: this.meta.keyColumns, estimate, resumedFrom: saved?.after, dryRun: !!this.o.dryRun, batchSize: this.batchSize },
      saved ? 'backfill resuming' : 'backfill starting',
    );

    let after = saved?.after;
    let done = saved?.done ?? 0;
    let rows = 0;
    let pages = 0;
    let completed = false;
    while (!this.o.signal?.aborted) {
      const page = pageQuery(this.meta, this.meta.keyColumns, { where: this.o.where, after, limit: this.batchSize });
      const result = await this.client.query<Record<string, unknown>>(page).catch((err: unknown) => {
        throw new TransientError(`backfill page query on ${this.qualified} failed: ${errorMessage(err)}`, err, 'BACKFILL_QUERY');
      });
      if (result.rows.length === 0) {
        completed = true;
        break;
      }
      await this.bucket?.take(result.rows.length, this.o.signal);
      if (this.o.signal?.aborted) break; // the page was not handled: the cursor stays before it

      await this.o.handle(this.toEvents(result.rows));
      after = this.keyOf(result.rows[result.rows.length - 1]);
      done += result.rows.length;
      rows += result.rows.length;
      pages++;
      if (!this.o.dryRun) {
        const cursor: BackfillCursor = { after, keyColumns: this.meta.keyColumns, done, savedAt: new Date().toISOString() };
        await this.o.cursorStore.save(this.scope, cursor);
      }
      this.o.onProgress?.(this.progress(done, rows, pages, estimate, started));
      if (result.rows.length < this.batchSize) {
        completed = true;
        break;
      }
    }
    // A finished backfill forgets its cursor: running it again means a new full pass.
    if (completed && !this.o.dryRun) await this.o.cursorStore.clear(this.scope);
    const summary: BackfillSummary = {
      table: this.qualified,
      rows,
      pages,
      seconds: (this.clock.now() - started) / 1000,
      resumedFrom: saved?.after,
      completed,
      throttle: this.bucket?.stats ?? { waits: 0, waitedMs: 0 },
    };
    this.log.info(summary, completed ? 'backfill completed' : 'backfill stopped before the end');
    return summary;
  }

  private toEvents(rows: readonly Record<string, unknown>[]): ChangeEvent[] {
    const commitTimeMs = nowMs();
    const { schema, table, keyColumns } = this.meta;
    return rows.map((row) => ({
      op: 'snapshot',
      schema,
      table,
      after: row,
      keyColumns,
      commitTimeMs,
      position: `backfill:${this.qualified}:${JSON.stringify(this.keyOf(row))}`,
    }));
  }

  private keyOf(row: Record<string, unknown>): unknown[] {
    return this.meta.keyColumns.map((c) => row[c]);
  }

  /** count(*) with a filter (the estimate would be meaningless); reltuples without one, unless never analyzed. */
  private async estimateRows(): Promise<number> {
    if (!this.o.where?.trim() && this.meta.estimatedRows >= 0) return Math.round(this.meta.estimatedRows);
    const { rows } = await this.client.query<{ n: string }>(countQuery(this.meta, this.o.where));
    return Number(rows[0].n);
  }

  private progress(done: number, rowsThisRun: number, pages: number, estimate: number, started: number): BackfillProgress {
    const elapsedSec = (this.clock.now() - started) / 1000;
    const rowsPerSec = elapsedSec > 0 ? rowsThisRun / elapsedSec : 0;
    const total = Math.max(estimate, done);
    return { done, total, rowsPerSec, etaSeconds: rowsPerSec > 0 ? (total - done) / rowsPerSec : undefined, pages };
  }
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}
