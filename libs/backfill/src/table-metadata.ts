import { Client } from 'pg';
import { ConfigError } from '@cdc/core';
import { TableName, formatTableName } from './table-name';

export interface ColumnType {
  readonly name: string;
  readonly typeOid: number;
  /** pg_type.typname; arrays of user types are `_element`. */
  readonly typeName: string;
}

export interface TableMetadata extends TableName {
  readonly oid: number;
  /** The ordered, unique, not-null key the pages walk: the primary key, else the replica identity index. */
  readonly keyColumns: readonly string[];
  readonly columns: readonly ColumnType[];
  /** pg_class.reltuples: the planner's row estimate, -1 if never analyzed. */
  readonly estimatedRows: number;
}

/**
 * Reads what keyset pagination needs from the catalog: the key columns in index order
 * (pg_index.indkey) and every column's type (to parse values like the Postgres source).
 */
export async function readTableMetadata(client: Client, name: TableName): Promise<TableMetadata> {
  const rel = await client.query<{ oid: number; reltuples: number; relkind: string }>(
    `SELECT c.oid::int8 AS oid, c.reltuples::float8 AS reltuples, c.relkind::text AS relkind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [name.schema, name.table],
  );
  const relation = rel.rows[0];
  if (!relation) throw new ConfigError(`table ${formatTableName(name)} does not exist`, 'BACKFILL_TABLE');
  if (relation.relkind !== 'r' && relation.relkind !== 'p') {
    throw new ConfigError(`${formatTableName(name)} is not a table (relkind ${relation.relkind})`, 'BACKFILL_TABLE');
  }
  const oid = Number(relation.oid);

  // The primary key first; a REPLICA IDENTITY USING INDEX index is unique and not-null too.
  const keys = await client.query<{ attname: string }>(
    `SELECT a.attname
       FROM (SELECT i.indkey, i.indisprimary FROM pg_index i
              WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
              ORDER BY i.indisprimary DESC LIMIT 1) k
       CROSS JOIN LATERAL unnest(k.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = u.attnum
      ORDER BY u.ord`,
    [oid],
  );
  if (keys.rows.length === 0) {
    throw new ConfigError(
      `table ${formatTableName(name)} has no primary key (nor replica identity index): keyset pagination needs one`,
      'BACKFILL_NO_KEY',
    );
  }

  const cols = await client.query<{ attname: string; atttypid: number; typname: string }>(
    `SELECT a.attname, a.atttypid::int8 AS atttypid, t.typname::text AS typname
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  );
  return {
    ...name,
    oid,
    keyColumns: keys.rows.map((r) => r.attname),
    columns: cols.rows.map((r) => ({ name: r.attname, typeOid: Number(r.atttypid), typeName: r.typname })),
    estimatedRows: Number(relation.reltuples),
  };
}
