import { ConfigError, DeadLetterSink } from '@cdc/core';

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
  /** Prefix of transactional logical messages carrying explicit invalidations. Default 'cache-invalidation'. */
  messagePrefix?: string;
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
}

export interface ResolvedPostgresSourceOptions {
  readonly connectionString: string;
  readonly slotName: string;
  readonly publicationName: string;
  readonly createSlot: boolean;
  readonly createPublication: boolean;
  readonly publicationTables: readonly string[] | 'all' | undefined;
  readonly messagePrefix: string;
  readonly maxBufferedEvents: number;
  readonly statusIntervalMs: number;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly stopTimeoutMs: number;
  readonly deadLetters: DeadLetterSink | undefined;
  readonly waitForVisibility: boolean;
}

/**
 * Slot names: Postgres allows lower-case letters, digits and underscores. Publication
 * names are held to the same rule because pgoutput's `publication_names` option is an
 * unquoted, case-folded list (and the library interpolates it into START_REPLICATION).
 */
const SLOT_OR_PUBLICATION = /^[a-z0-9_]{1,63}$/;
const TABLE_OR_GLOB = /^[^.\s]+\.[^.\s]+$/;

export function resolvePostgresSourceOptions(o: PostgresSourceOptions): ResolvedPostgresSourceOptions {
  const r: ResolvedPostgresSourceOptions = {
    connectionString: o.connectionString,
    slotName: o.slotName ?? 'cdc_invalidator',
    publicationName: o.publicationName ?? 'cdc_invalidator',
    createSlot: o.createSlot ?? true,
    createPublication: o.createPublication ?? true,
    publicationTables: o.publicationTables,
    messagePrefix: o.messagePrefix ?? 'cache-invalidation',
    maxBufferedEvents: o.maxBufferedEvents ?? 20_000,
    statusIntervalMs: o.statusIntervalMs ?? 10_000,
    reconnect: { initialDelayMs: o.reconnect?.initialDelayMs ?? 200, maxDelayMs: o.reconnect?.maxDelayMs ?? 10_000 },
    stopTimeoutMs: o.stopTimeoutMs ?? 5_000,
    deadLetters: o.deadLetters,
    waitForVisibility: o.waitForVisibility ?? true,
  };
  const problems: string[] = [];
  if (!/^postgres(ql)?:\/\//.test(r.connectionString ?? '')) problems.push('connectionString must be a postgres:// or postgresql:// URL');
  if (!SLOT_OR_PUBLICATION.test(r.slotName)) problems.push(`slotName ${JSON.stringify(r.slotName)} must be 1-63 of [a-z0-9_]`);
  if (!SLOT_OR_PUBLICATION.test(r.publicationName)) problems.push(`publicationName ${JSON.stringify(r.publicationName)} must be 1-63 of [a-z0-9_]`);
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
 * Reads the source's options from the environment, reporting every bad variable at once:
 * DATABASE_URL (required), PG_SLOT, PG_PUBLICATION, PG_CREATE_SLOT, PG_CREATE_PUBLICATION,
 * PG_PUBLICATION_TABLES ('all' or a comma-separated list), PG_MESSAGE_PREFIX,
 * PG_MAX_BUFFERED_EVENTS, PG_STATUS_INTERVAL_MS, PG_WAIT_FOR_VISIBILITY.
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
  else if (!/^postgres(ql)?:\/\//.test(connectionString)) bad('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');

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
  const messagePrefix = env.PG_MESSAGE_PREFIX;
  if (messagePrefix !== undefined && messagePrefix.trim() === '') bad('PG_MESSAGE_PREFIX', 'must not be empty');

  const options: PostgresSourceOptions = {
    connectionString: connectionString ?? '',
    slotName: name('PG_SLOT'),
    publicationName: name('PG_PUBLICATION'),
    createSlot: bool('PG_CREATE_SLOT'),
    createPublication: bool('PG_CREATE_PUBLICATION'),
    publicationTables,
    messagePrefix: messagePrefix?.trim() || undefined,
    maxBufferedEvents: int('PG_MAX_BUFFERED_EVENTS', 1),
    statusIntervalMs: int('PG_STATUS_INTERVAL_MS', 10),
    waitForVisibility: bool('PG_WAIT_FOR_VISIBILITY'),
  };
  if (problems.length) throw new ConfigError(`invalid environment: ${problems.join('; ')}`, 'ENV_INVALID');
  // Drop unset keys so the documented defaults apply.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as unknown as PostgresSourceOptions;
}
