import { CustomTypesConfig, types as pgTypes } from 'pg';
import { parserForType } from '@cdc/source-postgres/value-parsers';
import { ColumnType } from './table-metadata';

/**
 * Session settings the text forms below depend on; the same ones the replication
 * connection pins, so a backfilled row carries exactly the values a streamed one would.
 */
export const BACKFILL_SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex';

/**
 * node-postgres type parsers that type a backfilled row like the Postgres source types a
 * decoded one (int8/numeric as strings, timestamps as ISO strings with µs, json parsed,
 * bytea as `\x..` hex, arrays as arrays; see value-parsers.ts in the Postgres source).
 * Scoped to one client: the process-wide pg.types stay untouched.
 * `columns` may be filled after the client is created (the catalog is read on it first).
 */
export class RowTypeParsers implements CustomTypesConfig {
  private readonly byOid = new Map<number, (text: string) => unknown>();

  register(columns: readonly ColumnType[]): void {
    for (const c of columns) this.byOid.set(c.typeOid, parserForType(c.typeOid, c.typeName));
  }

  readonly getTypeParser: CustomTypesConfig['getTypeParser'] = (oid, format) => {
    if (format !== 'binary') {
      const parser = this.byOid.get(oid);
      if (parser) return parser;
    }
    return pgTypes.getTypeParser(oid, format);
  };
}
