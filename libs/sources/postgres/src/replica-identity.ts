import { Client } from 'pg';

/**
 * Which tables cannot be published for UPDATE and DELETE without breaking the application.
 *
 * Postgres checks every UPDATE and DELETE on a table that is in a publication publishing
 * updates or deletes: without a usable replica identity the statement itself fails
 * ("cannot update table ... because it does not have a replica identity and publishes
 * updates"). Adding such a table to our publication would therefore turn the worker's
 * start into an outage of the application's writes. Usable: REPLICA IDENTITY DEFAULT with
 * a primary key, USING INDEX on an index that still exists, or FULL.
 */

export interface IdentityGap {
  /** `schema.table` */
  readonly table: string;
  /** Why the table has no replica identity, in the operator's terms. */
  readonly reason: string;
}

/** Pure: whether a table with these catalog facts has no usable replica identity, and why. */
export function identityGap(
  table: string,
  facts: { readonly relreplident: string; readonly hasPrimaryKey: boolean; readonly hasIdentityIndex: boolean },
): IdentityGap | undefined {
  switch (facts.relreplident) {
    case 'f':
      return undefined;
    case 'n':
      return { table, reason: 'REPLICA IDENTITY NOTHING' };
    case 'i':
      // Dropping the identity index leaves relreplident = 'i' and behaves like NOTHING.
      return facts.hasIdentityIndex ? undefined : { table, reason: 'REPLICA IDENTITY USING INDEX names an index that no longer exists' };
    default:
      return facts.hasPrimaryKey ? undefined : { table, reason: 'no primary key (REPLICA IDENTITY DEFAULT)' };
  }
}

/** The one message for a table without replica identity, shared by `validate` and `run`. */
export function identityGapMessage(gap: IdentityGap, publication: string): string {
  return (
    `table ${gap.table} has no replica identity (${gap.reason}): publishing it for update/delete in "${publication}" makes Postgres ` +
    `reject the application's UPDATE and DELETE on it. Fix: add a primary key, or ALTER TABLE ${gap.table} REPLICA IDENTITY FULL, ` +
    `or ALTER TABLE ${gap.table} REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns>; ` +
    `or, if only its inserts matter, allow insert-only publication with PG_ALLOW_INSERT_ONLY_TABLES=${gap.table}`
  );
}

/** The tables among `tables` (qualified names) that have no usable replica identity. */
export async function findIdentityGaps(client: Client, tables: readonly string[]): Promise<IdentityGap[]> {
  if (tables.length === 0) return [];
  const { rows } = await client.query<{ name: string; relreplident: string; has_pk: boolean; has_ident_index: boolean }>(
    `SELECT n.nspname || '.' || c.relname AS name, c.relreplident::text AS relreplident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ident_index
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname = ANY ($1::text[])
      ORDER BY 1`,
    [tables],
  );
  const gaps: IdentityGap[] = [];
  for (const r of rows) {
    const gap = identityGap(r.name, { relreplident: r.relreplident, hasPrimaryKey: r.has_pk, hasIdentityIndex: r.has_ident_index });
    if (gap) gaps.push(gap);
  }
  return gaps;
}
