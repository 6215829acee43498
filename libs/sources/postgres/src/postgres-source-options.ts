import { ALL_COLUMNS, ColumnDemand, ConfigError, DEFAULT_EXPLICIT_POLICY, DEFAULT_MESSAGE_PREFIX, DeadLetterSink, ExplicitInvalidationPolicy } from '@cdc/core';

export interface PostgresSourceOptions {
  /** postgres:// URL of the primary. Required. Never logged in full (redactUrl). */
  connectionString: string;
  /** Logical replication slot (pgoutput). Default 'cdc_invalidator'. */
  slotName?: string;
  /** Publication streamed by the slot. Default 'cdc_invalidator'. */
  publicationName?: string;
  /** Create the slot at start when it does not exist (never on reconnect). Default true. */
  createSlot?: boolean;
  /** Create the publication when missing, and add missing listed tables to it. Default true. */
  createPublication?: boolean;
  /**
   * Tables to publish: `schema.table` names or globs (`public.*`, `shop.order_?`), or 'all'
   * (FOR ALL TABLES). Default: none, which is fine when the publication already exists
   * and an error when it has to be created. The worker passes the rules' tables.
   */
  publicationTables?: readonly string[] | 'all';
  /**
   * Tables (names or globs) that may be published for inserts (and truncates) only, because
   * they have no replica identity: publishing their updates and deletes would make Postgres
   * reject the application's UPDATE and DELETE on them. They go to a second publication,
   * `insertOnlyPublicationName`, created WITH (publish = 'insert, truncate'); the slot
   * streams both. Without this, such a table is refused. Default: none.
   */
  insertOnlyTables?: readonly string[];
  /** The insert-only publication. Default `<publicationName>_insert_only`. */
  insertOnlyPublicationName?: string;
  /**
   * When the worker's record says it streamed this slot before and the slot is gone, create
   * it again instead of refusing to start (the changes since the drop were never seen:
   * backfill). Read by the worker's slot-record guard. Default false.
   */
  recreateLostSlot?: boolean;
  /** Prefix of transactional logical messages carrying explicit invalidations. Default 'cache-invalidation'. */
  messagePrefix?: string;
  /** What explicit invalidations may carry; a refused message is dead-lettered. Default DEFAULT_EXPLICIT_POLICY (keys and tags, no patterns). */
  explicitPolicy?: ExplicitInvalidationPolicy;
  /** Decoded events held before the socket is paused (backpressure). Default 20000. */
  maxBufferedEvents?: number;
  /**
   * Period of the standby status update carrying the confirmed LSN. It also keeps the
   * connection alive while paused, so it is capped below the server's wal_sender_timeout.
   * Default 10000.
   */
  statusIntervalMs?: number;
  /** Reconnect backoff (capped exponential, full jitter). Defaults 200 ms and 10000 ms. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How long stop() waits for batches already handed out to be acked. Default 5000. */
  stopTimeoutMs?: number;
  /** Where malformed explicit-invalidation messages go. Default: logged and counted only. */
  deadLetters?: DeadLetterSink;
  /**
   * Hand out a batch only once its transactions are visible to new snapshots (one
   * `pg_current_snapshot()` query per batch on a regular connection; see
   * docs/postgres-source.md). Turning it off lets an invalidation land before the commit
   * is visible, so a reader can refill the old row. Default true.
   */
  waitForVisibility?: boolean;
  /**
   * The columns to decode per table, asked for anew before each message and batch (the
   * worker passes the current rules' `columnDemand`, so a reload takes effect). Columns
   * not asked for are left UNKNOWN. Default: every column.
   */
  columns?: () => ColumnDemand;
}

export interface ResolvedPostgresSourceOptions {
  readonly connectionString: string;
  readonly slotName: string;
  readonly publicationName: string;
  readonly createSlot: boolean;
  readonly createPublication: boolean;
  readonly publicationTables: readonly string[] | 'all' | undefined;
  readonly insertOnlyTables: readonly string[];
  readonly insertOnlyPublicationName: string;
  /** What START_REPLICATION streams: the publication, plus the insert-only one when it is used. */
  readonly publicationNames: readonly string[];
  readonly recreateLostSlot: boolean;
  readonly messagePrefix: string;
  readonly explicitPolicy: ExplicitInvalidationPolicy;
  readonly maxBufferedEvents: number;
  readonly statusIntervalMs: number;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly stopTimeoutMs: number;
  readonly deadLetters: DeadLetterSink | undefined;
  readonly waitForVisibility: boolean;
  readonly columns: () => ColumnDemand;
}

/**
 * Slot names: Postgres allows lower-case letters, digits and underscores. Publication
 * names are held to the same rule because pgoutput's `publication_names` option is an
 * unquoted, case-folded list (and the library interpolates it into START_REPLICATION).
 */
const allColumns = (): ColumnDemand => ALL_COLUMNS;

const SLOT_OR_PUBLICATION = /^[a-z0-9_]{1,63}$/;
const TABLE_OR_GLOB = /^[^.\s]+\.[^.\s]+$/;

export function resolvePostgresSourceOptions(o: PostgresSourceOptions): ResolvedPostgresSourceOptions {
  const publicationName = o.publicationName ?? 'cdc_invalidator';
  const insertOnlyTables = o.insertOnlyTables ?? [];
  const insertOnlyPublicationName = o.insertOnlyPublicationName ?? `${publicationName}_insert_only`;
  const r: ResolvedPostgresSourceOptions = {
    connectionString: o.connectionString,
    slotName: o.slotName ?? 'cdc_invalidator',
    publicationName,
    createSlot: o.createSlot ?? true,
    createPublication: o.createPublication ?? true,
    publicationTables: o.publicationTables,
    insertOnlyTables,
    insertOnlyPublicationName,
    publicationNames: insertOnlyTables.length > 0 ? [publicationName, insertOnlyPublicationName] : [publicationName],
    recreateLostSlot: o.recreateLostSlot ?? false,
    messagePrefix: o.messagePrefix ?? DEFAULT_MESSAGE_PREFIX,
    explicitPolicy: o.explicitPolicy ?? DEFAULT_EXPLICIT_POLICY,
    maxBufferedEvents: o.maxBufferedEvents ?? 20_000,
    statusIntervalMs: o.statusIntervalMs ?? 10_000,
    reconnect: { initialDelayMs: o.reconnect?.initialDelayMs ?? 200, maxDelayMs: o.reconnect?.maxDelayMs ?? 10_000 },
    stopTimeoutMs: o.stopTimeoutMs ?? 5_000,
    deadLetters: o.deadLetters,
    waitForVisibility: o.waitForVisibility ?? true,
    columns: o.columns ?? allColumns,
  };
  const problems: string[] = [];
  if (!/^postgres(ql)?:\/\//.test(r.connectionString ?? '')) problems.push('connectionString must be a postgres:// or postgresql:// URL');
  if (!SLOT_OR_PUBLICATION.test(r.slotName)) problems.push(`slotName ${JSON.stringify(r.slotName)} must be 1-63 of [a-z0-9_]`);
  if (!SLOT_OR_PUBLICATION.test(r.publicationName)) problems.push(`publicationName ${JSON.stringify(r.publicationName)} must be 1-63 of [a-z0-9_]`);
  for (const t of r.insertOnlyTables) {
    if (!TABLE_OR_GLOB.test(t)) problems.push(`insert-only table ${JSON.stringify(t)} must be schema.table (globs * and ? allowed)`);
  }
  if (r.insertOnlyTables.length > 0) {
    if (!SLOT_OR_PUBLICATION.test(r.insertOnlyPublicationName)) {
      problems.push(`insertOnlyPublicationName ${JSON.stringify(r.insertOnlyPublicationName)} must be 1-63 of [a-z0-9_] (set PG_INSERT_ONLY_PUBLICATION)`);
    } else if (r.insertOnlyPublicationName === r.publicationName) {
      problems.push('insertOnlyPublicationName must differ from publicationName');
    }
  }
  if (Array.isArray(r.publicationTables)) {
    for (const t of r.publicationTables) {
      if (!TABLE_OR_GLOB.test(t)) problems.push(`publication table ${JSON.stringify(t)} must be schema.table (globs * and ? allowed)`);
    }
  }
  if (r.messagePrefix.length === 0) problems.push('messagePrefix must not be empty');
  if (!Number.isInteger(r.maxBufferedEvents) || r.maxBufferedEvents < 1) problems.push('maxBufferedEvents must be a positive integer');
  if (!Number.isInteger(r.statusIntervalMs) || r.statusIntervalMs < 10) problems.push('statusIntervalMs must be an integer >= 10');
  if (!(r.reconnect.initialDelayMs >= 0 && r.reconnect.maxDelayMs >= r.reconnect.initialDelayMs)) {
    problems.push('reconnect delays must satisfy 0 <= initialDelayMs <= maxDelayMs');
  }
  if (problems.length) throw new ConfigError(`invalid Postgres source options: ${problems.join('; ')}`);
  return r;
}

/**
 * Why a Postgres URL is unusable, or undefined when it is fine. Never includes the URL (it
 * carries the password). Parsed as pg parses it (WHATWG URL, pg-connection-string), so a
 * URL that would end in a driver stack trace (port 99999, a bad host) is a configuration error.
 */
export function checkPostgresUrl(url: string): string | undefined {
  if (!/^postgres(ql)?:\/\//.test(url)) return 'must be a postgres:// or postgresql:// URL';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    try {
      // pg-connection-string's own fallback for a URL without a host (`postgres://u:p@/db?host=/socket`).
      parsed = new URL(url.replace('@/', '@___DUMMY___/'));
    } catch {
      return 'is not a valid URL (check the host, that the port is 1-65535, and that special characters in the user or password are percent-encoded)';
    }
  }
  if (parsed.port !== '' && Number(parsed.port) < 1) return 'has port 0; expected 1-65535';
  return undefined;
}

/**
 * Reads the source's options from the environment, reporting every bad variable at once:
 * DATABASE_URL (required), PG_SLOT, PG_PUBLICATION, PG_CREATE_SLOT, PG_CREATE_PUBLICATION,
 * PG_PUBLICATION_TABLES ('all' or a comma-separated list), PG_MESSAGE_PREFIX,
 * PG_MAX_BUFFERED_EVENTS, PG_STATUS_INTERVAL_MS, PG_WAIT_FOR_VISIBILITY, PG_ALLOW_INSERT_ONLY_TABLES
 * (comma-separated), PG_INSERT_ONLY_PUBLICATION, PG_RECREATE_LOST_SLOT.
 */
export function postgresSourceOptionsFromEnv(env: NodeJS.ProcessEnv): PostgresSourceOptions {
  const problems: string[] = [];
  const bad = (name: string, why: string): void => {
    problems.push(`${name} ${why}`);
  };
  const present = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const bool = (name: string): boolean | undefined => {
    const v = present(name);
    if (v === undefined) return undefined;
    if (/^(true|1|yes|on)$/i.test(v)) return true;
    if (/^(false|0|no|off)$/i.test(v)) return false;
    bad(name, `must be true or false (got ${JSON.stringify(v)})`);
    return undefined;
  };
  const int = (name: string, min: number): number | undefined => {
    const v = present(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
      bad(name, `must be an integer >= ${min} (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return n;
  };
  const name = (variable: string): string | undefined => {
    const v = present(variable);
    if (v !== undefined && !SLOT_OR_PUBLICATION.test(v)) bad(variable, `must be 1-63 of [a-z0-9_] (got ${JSON.stringify(v)})`);
    return v;
  };

  const connectionString = present('DATABASE_URL');
  if (connectionString === undefined) bad('DATABASE_URL', 'is required (postgres://user:password@host:5432/db)');
  else {
    const problem = checkPostgresUrl(connectionString);
    if (problem) bad('DATABASE_URL', problem);
  }

  let publicationTables: string[] | 'all' | undefined;
  const tables = present('PG_PUBLICATION_TABLES');
  if (tables !== undefined) {
    if (tables.toLowerCase() === 'all') publicationTables = 'all';
    else {
      publicationTables = tables.split(',').map((t) => t.trim()).filter((t) => t !== '');
      const wrong = publicationTables.filter((t) => !TABLE_OR_GLOB.test(t));
      if (wrong.length) bad('PG_PUBLICATION_TABLES', `must be 'all' or comma-separated schema.table names or globs (bad: ${wrong.join(', ')})`);
    }
  }
  let insertOnlyTables: string[] | undefined;
  const insertOnly = present('PG_ALLOW_INSERT_ONLY_TABLES');
  if (insertOnly !== undefined) {
    insertOnlyTables = insertOnly.split(',').map((t) => t.trim()).filter((t) => t !== '');
    const wrong = insertOnlyTables.filter((t) => !TABLE_OR_GLOB.test(t));
    if (wrong.length) bad('PG_ALLOW_INSERT_ONLY_TABLES', `must be comma-separated schema.table names or globs (bad: ${wrong.join(', ')})`);
  }
  const messagePrefix = env.PG_MESSAGE_PREFIX;
  if (messagePrefix !== undefined && messagePrefix.trim() === '') bad('PG_MESSAGE_PREFIX', 'must not be empty');

  const options: PostgresSourceOptions = {
    connectionString: connectionString ?? '',
    slotName: name('PG_SLOT'),
    publicationName: name('PG_PUBLICATION'),
    createSlot: bool('PG_CREATE_SLOT'),
    createPublication: bool('PG_CREATE_PUBLICATION'),
    publicationTables,
    insertOnlyTables,
    insertOnlyPublicationName: name('PG_INSERT_ONLY_PUBLICATION'),
    recreateLostSlot: bool('PG_RECREATE_LOST_SLOT'),
    messagePrefix: messagePrefix?.trim() || undefined,
    maxBufferedEvents: int('PG_MAX_BUFFERED_EVENTS', 1),
    statusIntervalMs: int('PG_STATUS_INTERVAL_MS', 10),
    waitForVisibility: bool('PG_WAIT_FOR_VISIBILITY'),
  };
  if (problems.length) throw new ConfigError(`invalid environment: ${problems.join('; ')}`, 'ENV_INVALID');
  // Drop unset keys so the documented defaults apply.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as unknown as PostgresSourceOptions;
}
