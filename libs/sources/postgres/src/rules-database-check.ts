import { ChangeOp, LocatedProblem, SourceLocation } from '@cdc/core';
import { Client } from 'pg';
import { identityGap, identityGapMessage } from './replica-identity';
import { withClient } from './replication-setup';
import { isGlob, matchTables } from './table-names';
import { POSTGRES_SOURCE_DEFAULTS } from './postgres-source-options';

/**
 * `validate` against a live database: do the tables and columns the rules name exist,
 * are the old values that update/delete rules read actually logged (replica identity),
 * and does the publication carry the tables.
 *
 * The rules are taken structurally (the part of @cdc/rules CompiledRules this needs), so
 * this library does not depend on the rules library.
 */

export interface RuleColumnForCheck {
  readonly column: string;
  readonly side: 'current' | 'before' | 'after';
  readonly template: string;
  readonly location: SourceLocation;
}

export interface RuleForCheck {
  readonly name: string;
  readonly tables: readonly string[];
  readonly ops: readonly ChangeOp[];
  readonly location: SourceLocation;
  readonly columns: readonly RuleColumnForCheck[];
  readonly changedColumns: readonly string[];
  readonly whereColumns?: readonly RuleColumnForCheck[];
}

export interface RulesForCheck {
  readonly rules: readonly RuleForCheck[];
}

/** What the catalog says about one table. */
export interface TableFacts {
  readonly name: string;
  readonly columns: readonly string[];
  /** Columns whose old value is logged on update/delete (all of them under FULL). */
  readonly identityColumns: readonly string[];
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
}

export interface DatabaseFacts {
  readonly tables: ReadonlyMap<string, TableFacts>;
  /** undefined when the publication does not exist. */
  readonly publishedTables: ReadonlySet<string> | undefined;
  readonly publicationName: string;
  /** Tables (names or globs) allowed to be published insert-only (PG_ALLOW_INSERT_ONLY_TABLES). */
  readonly insertOnlyTables?: readonly string[];
}

export async function checkRulesAgainstDatabase(
  rules: RulesForCheck,
  connectionString: string,
  options: { publicationName?: string; insertOnlyTables?: readonly string[] } = {},
): Promise<LocatedProblem[]> {
  const publicationName = options.publicationName ?? POSTGRES_SOURCE_DEFAULTS.publicationName;
  const facts = await withClient(connectionString, (client) => readDatabaseFacts(client, publicationName));
  return checkRules(rules, { ...facts, insertOnlyTables: options.insertOnlyTables });
}

const IDENTITY: Record<string, TableFacts['replicaIdentity']> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

export async function readDatabaseFacts(client: Client, publicationName: string): Promise<DatabaseFacts> {
  const { rows } = await client.query<{ name: string; relreplident: string; columns: string[]; identity: string[] }>(
    `SELECT n.nspname || '.' || c.relname AS name, c.relreplident::text AS relreplident,
            ARRAY(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
            ARRAY(SELECT a.attname::text FROM pg_index i
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                   WHERE i.indrelid = c.oid
                     AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))) AS identity
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
  );
  const tables = new Map<string, TableFacts>();
  for (const r of rows) {
    const replicaIdentity = IDENTITY[r.relreplident] ?? 'default';
    tables.set(r.name, { name: r.name, columns: r.columns, replicaIdentity, identityColumns: replicaIdentity === 'full' ? r.columns : r.identity });
  }
  const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publicationName]);
  let publishedTables: Set<string> | undefined;
  if (pub.rowCount) {
    const published = await client.query<{ name: string }>(
      `SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = $1`,
      [publicationName],
    );
    publishedTables = new Set(published.rows.map((r) => r.name));
  }
  return { tables, publishedTables, publicationName };
}

/** Pure: the problems of `rules` against `facts`, sorted by position. */
export function checkRules(rules: RulesForCheck, facts: DatabaseFacts): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  const seen = new Set<string>();
  const add = (at: SourceLocation, severity: LocatedProblem['severity'], message: string): void => {
    const key = `${at.file}:${at.line}:${at.column}:${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push({ file: at.file, line: at.line, column: at.column, severity, message });
  };
  const existing = [...facts.tables.keys()];

  if (facts.publishedTables === undefined && rules.rules.length > 0) {
    const first = rules.rules[0].location;
    add({ file: first.file, line: 1, column: 1 }, 'warning', `publication "${facts.publicationName}" does not exist yet (the source creates it at start when PG_CREATE_PUBLICATION is true)`);
  }

  for (const rule of rules.rules) {
    for (const match of matchTables(rule.tables, existing)) {
      const glob = isGlob(match.pattern);
      if (match.tables.length === 0) {
        add(rule.location, glob ? 'warning' : 'error', glob ? `rule '${rule.name}': no table matches ${match.pattern}` : `rule '${rule.name}': table ${match.pattern} does not exist`);
        continue;
      }
      for (const name of match.tables) {
        const table = facts.tables.get(name);
        if (table) checkTable(rule, table, glob ? match.pattern : undefined, facts, add);
      }
    }
  }
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

function checkTable(
  rule: RuleForCheck,
  table: TableFacts,
  viaGlob: string | undefined,
  facts: DatabaseFacts,
  add: (at: SourceLocation, severity: LocatedProblem['severity'], message: string) => void,
): void {
  const matched = viaGlob ? ` (matched by ${viaGlob})` : '';
  if (facts.publishedTables && !facts.publishedTables.has(table.name)) {
    add(rule.location, 'warning', `rule '${rule.name}': ${table.name}${matched} is not in publication "${facts.publicationName}": its changes are not streamed`);
  }
  // A column missing from one table a glob matches is likely deliberate elsewhere: warn; an exact table: error.
  const severity = viaGlob ? 'warning' : 'error';
  const columns = [...rule.columns, ...(rule.whereColumns ?? [])];
  for (const c of columns) {
    if (!table.columns.includes(c.column)) add(c.location, severity, `rule '${rule.name}': column "${c.column}" does not exist in ${table.name}${matched} (${c.template})`);
  }
  for (const c of rule.changedColumns) {
    if (!table.columns.includes(c)) add(rule.location, severity, `rule '${rule.name}': changed column "${c}" does not exist in ${table.name}${matched}`);
  }

  if (table.replicaIdentity === 'full') return;
  const gap = identityGap(table.name, {
    relreplident: table.replicaIdentity[0],
    hasPrimaryKey: table.replicaIdentity === 'default' && table.identityColumns.length > 0,
    hasIdentityIndex: table.replicaIdentity === 'index' && table.identityColumns.length > 0,
  });
  if (gap) {
    const insertOnly = matchTables(facts.insertOnlyTables ?? [], [table.name]).some((m) => m.tables.length > 0);
    if (insertOnly) {
      const fires = rule.ops.some((op) => op === 'update' || op === 'delete');
      add(rule.location, 'warning', `rule '${rule.name}': ${table.name}${matched} has no replica identity (${gap.reason}) and is published for inserts and truncates only (PG_ALLOW_INSERT_ONLY_TABLES)${fires ? ': its updates and deletes fire no rule' : ''}`);
    } else {
      add(rule.location, 'error', `rule '${rule.name}': ${identityGapMessage(gap, facts.publicationName)}`);
    }
    return;
  }
  const onUpdate = rule.ops.includes('update');
  const onDelete = rule.ops.includes('delete');
  const notLogged = (column: string): boolean => table.columns.includes(column) && !table.identityColumns.includes(column);
  const warn = (at: SourceLocation, column: string, use: string): void =>
    add(
      at,
      'warning',
      `rule '${rule.name}': ${use} reads the old value of "${column}" but ${table.name}${matched} has REPLICA IDENTITY ${table.replicaIdentity.toUpperCase()}: ` +
        `old value not logged; set REPLICA IDENTITY FULL on ${table.name}`,
    );
  for (const c of columns) {
    if (!notLogged(c.column)) continue;
    if (c.side === 'before' && (onUpdate || onDelete)) warn(c.location, c.column, c.template);
    else if (c.side === 'current' && onDelete) warn(c.location, c.column, `${c.template} on delete`);
  }
  if (onUpdate) for (const c of rule.changedColumns) if (notLogged(c)) warn(rule.location, c, `changed: [${c}]`);
}
