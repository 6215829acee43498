/**
 * Which columns of a table anything downstream reads: what a source must decode. A source
 * that knows this may leave the other columns undecoded (they read as UNKNOWN), which
 * saves decoding values nobody looks at. The rules compile it (libs/rules column-demand.ts);
 * the source asks for the current one, so a rules reload changes it.
 */
export interface ColumnDemand {
  /**
   * The columns of `schema.table` that must be decoded, or `undefined` for all of them
   * (something needs the whole row, or cannot say). An empty set: only the key columns.
   */
  columnsOf(schema: string, table: string): ReadonlySet<string> | undefined;
}

/** Every column of every table: what a source decodes when nothing narrower is known. */
export const ALL_COLUMNS: ColumnDemand = Object.freeze({ columnsOf: () => undefined });
