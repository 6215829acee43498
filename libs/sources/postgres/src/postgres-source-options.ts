import { ALL_COLUMNS, ColumnDemand, ConfigError, ConfigSpec, DEFAULT_EXPLICIT_POLICY, DEFAULT_MESSAGE_PREFIX, DeadLetterSink, Env, ExplicitInvalidationPolicy, FieldError, defineConfig, field, parseConfig } from '@cdc/core';

/** Defaults shared by options given in code and the environment declarations below (the slot name lives here only). */
export const POSTGRES_SOURCE_DEFAULTS = {
  slotName: 'cdc_invalidator',
  publicationName: 'cdc_invalidator',
  maxBufferedEvents: 20_000,
  statusIntervalMs: 10_000,
} as const;

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

const allColumns = (): ColumnDemand => ALL_COLUMNS;

/**
 * Slot names: Postgres allows lower-case letters, digits and underscores. Publication
 * names are held to the same rule because pgoutput's `publication_names` option is an
 * unquoted, case-folded list (and the library interpolates it into START_REPLICATION).
 */
const SLOT_OR_PUBLICATION = /^[a-z0-9_]{1,63}$/;
const TABLE_OR_GLOB = /^[^.\s]+\.[^.\s]+$/;

export function resolvePostgresSourceOptions(o: PostgresSourceOptions): ResolvedPostgresSourceOptions {
  const publicationName = o.publicationName ?? POSTGRES_SOURCE_DEFAULTS.publicationName;
  const insertOnlyTables = o.insertOnlyTables ?? [];
  const insertOnlyPublicationName = o.insertOnlyPublicationName ?? `${publicationName}_insert_only`;
  const r: ResolvedPostgresSourceOptions = {
    connectionString: o.connectionString,
    slotName: o.slotName ?? POSTGRES_SOURCE_DEFAULTS.slotName,
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
    maxBufferedEvents: o.maxBufferedEvents ?? POSTGRES_SOURCE_DEFAULTS.maxBufferedEvents,
    statusIntervalMs: o.statusIntervalMs ?? POSTGRES_SOURCE_DEFAULTS.statusIntervalMs,
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
  try {
    POSTGRES_URL.parse(url);
    return undefined;
  } catch (err) {
    if (err instanceof FieldError) return err.message;
    throw err;
  }
}

const POSTGRES_URL = field.url({
  name: 'DATABASE_URL',
  description: '`postgres://` URL of the primary (replication privilege)',
  required: true,
  secret: true,
  protocols: ['postgres:', 'postgresql:'],
  // pg-connection-string's own fallback for a URL without a host (`postgres://u:p@/db?host=/socket`).
  parseValue: (v) => {
    try {
      return new URL(v);
    } catch {
      return new URL(v.replace('@/', '@___DUMMY___/'));
    }
  },
});

const tableOrGlob = (t: string): string => {
  if (!TABLE_OR_GLOB.test(t)) throw new FieldError('is not schema.table (globs * and ? allowed)');
  return t;
};
const slotOrPublication = { pattern: SLOT_OR_PUBLICATION, what: '1-63 of [a-z0-9_]' } as const;

/** The variables the Postgres source reads, declared once (README "Postgres source" is generated from them). */
export const POSTGRES_SOURCE_FIELDS = {
  connectionString: POSTGRES_URL,
  slotName: field.text({ name: 'PG_SLOT', description: 'logical replication slot (pgoutput)', default: POSTGRES_SOURCE_DEFAULTS.slotName, ...slotOrPublication }),
  publicationName: field.text({ name: 'PG_PUBLICATION', description: 'publication the slot streams', default: POSTGRES_SOURCE_DEFAULTS.publicationName, ...slotOrPublication }),
  createSlot: field.boolean({ name: 'PG_CREATE_SLOT', description: 'create the slot when missing (else it must exist)', default: true }),
  createPublication: field.boolean({ name: 'PG_CREATE_PUBLICATION', description: 'create the publication when missing and add missing tables to it (else it must exist)', default: true }),
  publicationTables: field.custom({
    name: 'PG_PUBLICATION_TABLES',
    type: '`all` or list of schema.table',
    description: '`all` or `schema.table,...` (globs allowed)',
    defaultDoc: "the rules' tables",
    parse: (v): readonly string[] | 'all' => {
      if (v.toLowerCase() === 'all') return 'all';
      return field.list({ name: 'PG_PUBLICATION_TABLES', description: '', item: tableOrGlob }).parse(v) ?? [];
    },
  }),
  messagePrefix: field.text({
    name: 'PG_MESSAGE_PREFIX',
    description:
      'prefix of transactional `pg_logical_emit_message` explicit invalidations `{"keys":[],"tags":[],"patterns":[]}` (the Kafka source\'s `KAFKA_MESSAGE_PREFIX` has the same default); what they may carry: `EXPLICIT_INVALIDATION_*`',
    default: DEFAULT_MESSAGE_PREFIX,
  }),
  maxBufferedEvents: field.integer({ name: 'PG_MAX_BUFFERED_EVENTS', description: 'decoded events held before the socket is paused (backpressure)', default: POSTGRES_SOURCE_DEFAULTS.maxBufferedEvents, min: 1 }),
  statusIntervalMs: field.integer({ name: 'PG_STATUS_INTERVAL_MS', description: 'standby status period (carries the last *applied* LSN)', default: POSTGRES_SOURCE_DEFAULTS.statusIntervalMs, min: 10 }),
  waitForVisibility: field.boolean({ name: 'PG_WAIT_FOR_VISIBILITY', description: 'hand a batch out only once its transactions are visible to new snapshots', default: true }),
  insertOnlyTables: field.list({
    name: 'PG_ALLOW_INSERT_ONLY_TABLES',
    what: 'list of schema.table',
    description:
      'tables without replica identity to publish for inserts/truncates only, in `PG_INSERT_ONLY_PUBLICATION`; any other such table is refused ([docs/postgres-source.md](docs/postgres-source.md#tables-without-replica-identity))',
    item: tableOrGlob,
  }),
  insertOnlyPublicationName: field.text({ name: 'PG_INSERT_ONLY_PUBLICATION', description: 'the insert-only publication', defaultDoc: '`<publication>_insert_only`', ...slotOrPublication }),
  recreateLostSlot: field.boolean({ name: 'PG_RECREATE_LOST_SLOT', description: 'recreate a slot this worker streamed before and finds gone, instead of refusing to start (then backfill)', default: false }),
};

/** The Postgres source's configuration from the environment (every bad variable named at once). */
export const POSTGRES_SOURCE_CONFIG: ConfigSpec<PostgresSourceOptions> = defineConfig('Postgres source', POSTGRES_SOURCE_FIELDS, (v) => {
  const o: PostgresSourceOptions = { ...v, connectionString: v.connectionString ?? '' };
  // Drop unset keys so the derived defaults (the insert-only publication's name) apply.
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as unknown as PostgresSourceOptions;
});

/** Reads the source's options from the environment, reporting every bad variable at once. */
export function postgresSourceOptionsFromEnv(env: Env): PostgresSourceOptions {
  return parseConfig(POSTGRES_SOURCE_CONFIG, env);
}
