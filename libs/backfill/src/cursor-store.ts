import { createHash } from 'node:crypto';

/** Where a backfill stands: the key of the last row whose page was fully handled. */
export interface BackfillCursor {
  /** Key column values of that row, typed as in the events (JSON-safe). */
  readonly after: readonly unknown[];
  /** Key column names, to refuse a cursor saved for a different key. */
  readonly keyColumns: readonly string[];
  /** Rows handled so far, across resumed runs (for progress). */
  readonly done: number;
  /** ISO time of the save. */
  readonly savedAt: string;
}

/**
 * Durable cursor per backfill scope (`<schema.table>:<hash of where>`). `save` must be
 * durable when it resolves: the backfill saves after every handled page and resumes
 * from `load` after a crash.
 */
export interface CursorStore {
  load(scope: string): Promise<BackfillCursor | undefined>;
  save(scope: string, cursor: BackfillCursor): Promise<void>;
  /** Forgets the cursor (the backfill completed, or a fresh one was asked for). */
  clear(scope: string): Promise<void>;
}

/**
 * One backfill is one table and one filter: a different `where` is a different set of
 * rows and must not reuse another filter's position.
 */
export function backfillScope(qualifiedTable: string, where?: string): string {
  const hash = createHash('sha256').update(where?.trim() ?? '').digest('hex').slice(0, 16);
  return `${qualifiedTable}:${hash}`;
}

/** In-process cursors: for tests, dry runs and one-shot backfills that need no resume. */
export class MemoryCursorStore implements CursorStore {
  private readonly cursors = new Map<string, BackfillCursor>();

  async load(scope: string): Promise<BackfillCursor | undefined> {
    return this.cursors.get(scope);
  }

  async save(scope: string, cursor: BackfillCursor): Promise<void> {
    this.cursors.set(scope, cursor);
  }

  async clear(scope: string): Promise<void> {
    this.cursors.delete(scope);
  }
}
