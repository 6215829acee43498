import { escapeIdentifier } from 'pg';
import { TableName } from './table-name';

/**
 * Keyset pagination over the table's key: each page starts strictly after the last key
 * of the previous one, `(a, b) > ($1, $2) ORDER BY a, b LIMIT n`. Unlike OFFSET it costs
 * the same on page 10,000 as on page 1 (an index range scan on the key), and a page
 * boundary is a value, so it survives a crash as a saved cursor.
 *
 * `where` is trusted operator input, pasted in as SQL (see docs/backfill.md). It is
 * wrapped in parentheses on its own lines so that an OR or a trailing `--` comment in it
 * cannot swallow the key condition.
 */
export interface PageQuery {
  readonly text: string;
  readonly values: unknown[];
}

export function qualifiedIdentifier(t: TableName): string {
  return `${escapeIdentifier(t.schema)}.${escapeIdentifier(t.table)}`;
}

export function pageQuery(
  table: TableName,
  keyColumns: readonly string[],
  opts: { where?: string; after?: readonly unknown[]; limit: number },
): PageQuery {
  const keys = keyColumns.map(escapeIdentifier);
  const conditions: string[] = [];
  if (opts.where?.trim()) conditions.push(`(\n${opts.where}\n)`);
  const values: unknown[] = [];
  if (opts.after) {
    if (opts.after.length !== keys.length) {
      throw new Error(`cursor has ${opts.after.length} values for ${keys.length} key columns`);
    }
    values.push(...opts.after);
    const params = keys.map((_, i) => `$${i + 1}`);
    conditions.push(`(${keys.join(', ')}) > (${params.join(', ')})`);
  }
  values.push(opts.limit);
  const text =
    `SELECT * FROM ${qualifiedIdentifier(table)}` +
    (conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '') +
    ` ORDER BY ${keys.join(', ')} LIMIT $${values.length}`;
  return { text, values };
}

/** Rows the backfill will visit: exact with a filter (count(*)), else the planner's estimate. */
export function countQuery(table: TableName, where?: string): string {
  return `SELECT count(*) AS n FROM ${qualifiedIdentifier(table)}` + (where?.trim() ? ` WHERE (\n${where}\n)` : '');
}
