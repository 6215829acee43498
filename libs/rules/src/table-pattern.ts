/**
 * A rule's table selector: `schema.table`, where either part may use the globs `*`
 * (any run of characters) and `?` (one character). Matching is case-sensitive, as the
 * names arrive from the source (unquoted Postgres identifiers are lower case).
 */
export class TablePattern {
  private constructor(
    readonly text: string,
    readonly schema: string,
    readonly table: string,
    private readonly schemaRe: RegExp | undefined,
    private readonly tableRe: RegExp | undefined,
  ) {}

  static parse(text: string): TablePattern | { error: string } {
    const parts = text.split('.');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '' || /\s/.test(text)) {
      return { error: `table '${text}' must be written schema.table (e.g. public.products); globs * and ? are allowed in either part` };
    }
    const [schema, table] = parts;
    return new TablePattern(text, schema, table, globToRegExp(schema), globToRegExp(table));
  }

  /** True when neither part has a glob: the rule index looks it up in a Map. */
  get isExact(): boolean {
    return this.schemaRe === undefined && this.tableRe === undefined;
  }

  matches(schema: string, table: string): boolean {
    const schemaOk = this.schemaRe ? this.schemaRe.test(schema) : this.schema === schema;
    return schemaOk && (this.tableRe ? this.tableRe.test(table) : this.table === table);
  }
}

function globToRegExp(glob: string): RegExp | undefined {
  if (!/[*?]/.test(glob)) return undefined;
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
