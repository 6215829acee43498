import { ConfigError } from '@cdc/core';

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/**
 * `schema.table` (or `table`, meaning `public.table`) as Postgres stores the names:
 * unquoted, case as written. A name with a dot in it can be double-quoted:
 * `"my.schema"."my.table"`.
 */
export function parseTableName(input: string): TableName {
  const parts: string[] = [];
  const re = /"((?:[^"]|"")+)"|([^."]+)/y;
  let i = 0;
  while (i < input.length) {
    re.lastIndex = i;
    const m = re.exec(input);
    if (!m) throw new ConfigError(`bad table name "${input}": expected schema.table`, 'BACKFILL_TABLE');
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2].trim());
    i = re.lastIndex;
    if (i < input.length) {
      if (input[i] !== '.') throw new ConfigError(`bad table name "${input}": expected schema.table`, 'BACKFILL_TABLE');
      i++;
      if (i === input.length) throw new ConfigError(`bad table name "${input}": expected schema.table`, 'BACKFILL_TABLE');
    }
  }
  if (parts.length === 1) return { schema: 'public', table: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { schema: parts[0], table: parts[1] };
  throw new ConfigError(`bad table name "${input}": expected schema.table`, 'BACKFILL_TABLE');
}

export function formatTableName(t: TableName): string {
  return `${t.schema}.${t.table}`;
}
