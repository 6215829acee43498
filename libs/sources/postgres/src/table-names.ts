import { Client } from 'pg';

/**
 * Table names as the rules and options write them: `schema.table`, exact or with the
 * globs `*` (any run of characters) and `?` (one character). Matching is exact on the
 * catalog names (no case folding), like the schema and table a ChangeEvent carries.
 */

export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

export function globToRegExp(pattern: string): RegExp {
  // As in the rules' table patterns, a glob stays within the schema or the table part.
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*').replace(/\?/g, '[^.]');
  return new RegExp(`^${body}$`);
}

export interface TableMatch {
  readonly pattern: string;
  /** Qualified names of the existing tables the pattern names, sorted. */
  readonly tables: readonly string[];
}

/** Pure: which of `existing` (qualified names) each pattern names. */
export function matchTables(patterns: readonly string[], existing: readonly string[]): TableMatch[] {
  return patterns.map((pattern) => {
    if (!isGlob(pattern)) return { pattern, tables: existing.includes(pattern) ? [pattern] : [] };
    const re = globToRegExp(pattern);
    return { pattern, tables: existing.filter((t) => re.test(t)).sort() };
  });
}

/** Ordinary and partitioned tables outside the system schemas, as `schema.table`. */
export async function listUserTables(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT schemaname || '.' || tablename AS name FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/** `schema.table` → `"schema"."table"` for SQL text. */
export function quoteQualified(client: Client, qualified: string): string {
  const dot = qualified.indexOf('.');
  return `${client.escapeIdentifier(qualified.slice(0, dot))}.${client.escapeIdentifier(qualified.slice(dot + 1))}`;
}
