import { CdcError, ConfigError, Logger, TransientError, errorMessage, redactUrl } from '@cdc/core';
import { Client } from 'pg';
import { Lsn, ZERO_LSN, parseLsn } from './lsn';
import { ResolvedPostgresSourceOptions } from './postgres-source-options';
import { findIdentityGaps, identityGapMessage } from './replica-identity';
import { listUserTables, matchTables, quoteQualified } from './table-names';

/**
 * What has to be true before START_REPLICATION, checked (and created when asked) over an
 * ordinary connection: wal_level, the publication and its tables, the slot.
 */

/** Runs `fn` on a short-lived ordinary connection. Connection failures are retriable. */
export async function withClient<T>(connectionString: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString, application_name: 'cdc-invalidator-setup', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a dropped idle connection surfaces through the failing query
  try {
    await client.connect();
  } catch (err) {
    throw connectError(connectionString, err);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * SQLSTATEs a connection attempt ends with that no retry can fix: authentication and
 * authorization (28xxx: wrong password, no pg_hba.conf entry), a database that does not
 * exist (3D000), a role not allowed to log in.
 */
const PERMANENT_CONNECT = /^(28|3D000$)/;

/** A failed connection attempt as a typed error: permanent for what an operator must fix, else retriable. */
export function connectError(connectionString: string, err: unknown): CdcError {
  const code = (err as { code?: unknown }).code;
  const message = `cannot connect to Postgres at ${redactUrl(connectionString)}: ${errorMessage(err)}`;
  if (typeof code === 'string' && PERMANENT_CONNECT.test(code)) return new ConfigError(message, 'PG_AUTH');
  return new TransientError(message, err);
}

export async function checkWalLevel(client: Client): Promise<void> {
  const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
  const level = rows[0]?.wal_level;
  if (level !== 'logical') {
    throw new ConfigError(
      `Postgres wal_level is '${level}', logical replication needs 'logical': set wal_level = logical in postgresql.conf ` +
        `(or ALTER SYSTEM SET wal_level = logical) and restart Postgres`,
      'WAL_LEVEL',
    );
  }
}

/** wal_sender_timeout in ms (0 = disabled). */
export async function walSenderTimeoutMs(client: Client): Promise<number> {
  const { rows } = await client.query<{ ms: string }>(`SELECT setting::bigint * CASE unit WHEN 's' THEN 1000 ELSE 1 END AS ms FROM pg_settings WHERE name = 'wal_sender_timeout'`);
  return Number(rows[0]?.ms ?? 60_000);
}

/**
 * Makes sure the publication exists and (when it lists tables) includes every configured
 * table. Tables must exist; globs expand against pg_tables. Never removes a table, except
 * that an allowed insert-only table is moved to the insert-only publication.
 *
 * A table without a usable replica identity is never added where its updates and deletes
 * are published (Postgres would then reject the application's UPDATE and DELETE on it):
 * it is refused, or, when `insertOnlyTables` allows it, published by a second publication
 * WITH (publish = 'insert, truncate'). Publish options belong to a publication, not to a
 * table, hence the second one; pgoutput streams both and a table gets the union of what
 * the publications holding it publish.
 */
export async function ensurePublication(client: Client, o: ResolvedPostgresSourceOptions, log: Logger): Promise<void> {
  const pub = o.publicationName;
  const existing = await client.query<{ puballtables: boolean }>('SELECT puballtables FROM pg_publication WHERE pubname = $1', [pub]);
  let wanted = o.publicationTables === undefined || o.publicationTables === 'all' ? undefined : await resolveTables(client, o.publicationTables);
  const creatingAll = existing.rows.length === 0 && o.publicationTables === 'all';

  // Tables without replica identity among those we would publish.
  const candidates = wanted ?? (creatingAll || existing.rows[0]?.puballtables ? await listUserTables(client) : []);
  const gaps = await findIdentityGaps(client, candidates);
  const allowed = new Set(matchTables(o.insertOnlyTables, gaps.map((g) => g.table)).flatMap((m) => m.tables));
  const refused = gaps.filter((g) => wanted === undefined || !allowed.has(g.table));
  const insertOnly = wanted === undefined ? [] : gaps.filter((g) => allowed.has(g.table)).map((g) => g.table);
  if (refused.length > 0) {
    const message = refused.map((g) => identityGapMessage(g, pub)).join('\n');
    const forAll = wanted === undefined ? ' (a FOR ALL TABLES publication publishes every table for update/delete: list the tables instead with PG_PUBLICATION_TABLES)' : '';
    if (o.createPublication && (wanted !== undefined || creatingAll)) throw new ConfigError(`refusing to publish ${refused.map((g) => g.table).join(', ')}${forAll}:\n${message}`, 'REPLICA_IDENTITY_MISSING');
    log.warn({ publication: pub, tables: refused.map((g) => g.table) }, `tables without replica identity are or would be published for update/delete${forAll}: ${message}`);
  }
  if (wanted !== undefined) wanted = wanted.filter((t) => !insertOnly.includes(t));

  if (existing.rows.length === 0) {
    if (!o.createPublication) {
      throw new ConfigError(`publication "${pub}" does not exist: create it (CREATE PUBLICATION ${pub} FOR TABLE ...) or set PG_CREATE_PUBLICATION=true`, 'PUBLICATION_MISSING');
    }
    if (o.publicationTables === undefined) {
      throw new ConfigError(`publication "${pub}" does not exist and no tables were given to create it with (publicationTables / PG_PUBLICATION_TABLES)`, 'PUBLICATION_MISSING');
    }
    const target = wanted === undefined ? ' FOR ALL TABLES' : wanted.length === 0 ? '' : ` FOR TABLE ${wanted.map((t) => quoteQualified(client, t)).join(', ')}`;
    try {
      await client.query(`CREATE PUBLICATION ${client.escapeIdentifier(pub)}${target}`);
      log.info({ publication: pub, tables: wanted ?? 'all' }, 'created publication');
    } catch (err) {
      if ((err as { code?: string }).code !== '42710') throw setupError(`cannot create publication "${pub}"`, err); // 42710: created concurrently
    }
  } else if (!existing.rows[0].puballtables && wanted !== undefined) {
    await addMissingTables(client, o, wanted, log);
  } else if (o.publicationTables === 'all' && !existing.rows[0].puballtables) {
    log.warn({ publication: pub }, 'publicationTables is "all" but the existing publication lists tables; it is left as it is');
  }
  if (o.insertOnlyTables.length > 0) await ensureInsertOnlyPublication(client, o, insertOnly, log);
}

async function publishedTables(client: Client, publication: string): Promise<Set<string>> {
  const { rows } = await client.query<{ name: string }>(`SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = $1`, [publication]);
  return new Set(rows.map((r) => r.name));
}

async function addMissingTables(client: Client, o: ResolvedPostgresSourceOptions, wanted: readonly string[], log: Logger): Promise<void> {
  const pub = o.publicationName;
  const published = await publishedTables(client, pub);
  const missing = wanted.filter((t) => !published.has(t));
  if (missing.length === 0) return;
  if (!o.createPublication) {
    log.warn({ publication: pub, missing }, 'tables are not in the publication: their changes will not be seen');
    return;
  }
  for (const table of missing) {
    try {
      await client.query(`ALTER PUBLICATION ${client.escapeIdentifier(pub)} ADD TABLE ${quoteQualified(client, table)}`);
    } catch (err) {
      if ((err as { code?: string }).code !== '42710') throw setupError(`cannot add ${table} to publication "${pub}"`, err);
    }
  }
  log.info({ publication: pub, added: missing }, 'added tables to publication');
}

/**
 * The insert-only publication (publish = 'insert, truncate') holding the allowed tables
 * without replica identity. It exists whenever insert-only tables are configured, even
 * empty, because START_REPLICATION names it. A table still in the main publication is
 * moved in one transaction, so no insert falls between the two.
 */
async function ensureInsertOnlyPublication(client: Client, o: ResolvedPostgresSourceOptions, tables: readonly string[], log: Logger): Promise<void> {
  const pub = o.insertOnlyPublicationName;
  const existing = await client.query<{ pubupdate: boolean; pubdelete: boolean }>('SELECT pubupdate, pubdelete FROM pg_publication WHERE pubname = $1', [pub]);
  if (!o.createPublication) {
    if (existing.rows.length === 0) {
      throw new ConfigError(`insert-only publication "${pub}" does not exist: CREATE PUBLICATION ${pub} WITH (publish = 'insert, truncate') or set PG_CREATE_PUBLICATION=true`, 'PUBLICATION_MISSING');
    }
    return;
  }
  const main = await publishedTables(client, o.publicationName);
  const inInsertOnly = existing.rows.length ? await publishedTables(client, pub) : new Set<string>();
  const add = tables.filter((t) => !inInsertOnly.has(t));
  const move = tables.filter((t) => main.has(t));
  const quoted = (list: readonly string[]) => list.map((t) => quoteQualified(client, t)).join(', ');
  try {
    await client.query('BEGIN');
    if (existing.rows.length === 0) {
      await client.query(`CREATE PUBLICATION ${client.escapeIdentifier(pub)}${tables.length ? ` FOR TABLE ${quoted(tables)}` : ''} WITH (publish = 'insert, truncate')`);
    } else {
      if (existing.rows[0].pubupdate || existing.rows[0].pubdelete) await client.query(`ALTER PUBLICATION ${client.escapeIdentifier(pub)} SET (publish = 'insert, truncate')`);
      if (add.length) await client.query(`ALTER PUBLICATION ${client.escapeIdentifier(pub)} ADD TABLE ${quoted(add)}`);
    }
    if (move.length) await client.query(`ALTER PUBLICATION ${client.escapeIdentifier(o.publicationName)} DROP TABLE ${quoted(move)}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw setupError(`cannot set up insert-only publication "${pub}"`, err);
  }
  if (existing.rows.length === 0 || add.length || move.length) {
    log.warn(
      { publication: pub, tables, movedFrom: move.length ? o.publicationName : undefined },
      'tables without replica identity are published for inserts and truncates only (PG_ALLOW_INSERT_ONLY_TABLES): their updates and deletes fire no rule',
    );
  }
}

async function resolveTables(client: Client, patterns: readonly string[]): Promise<string[]> {
  const matches = matchTables(patterns, await listUserTables(client));
  const unknown = matches.filter((m) => m.tables.length === 0).map((m) => m.pattern);
  if (unknown.length) {
    throw new ConfigError(`publication tables do not exist: ${unknown.join(', ')} (no such table in pg_tables)`, 'TABLE_MISSING');
  }
  return [...new Set(matches.flatMap((m) => m.tables))];
}

export interface SlotRow {
  readonly plugin: string | null;
  readonly slotType: string;
  readonly database: string | null;
  readonly active: boolean;
  readonly activePid: number | null;
  readonly confirmedFlushLsn: string | null;
  readonly walStatus: string | null;
}

export async function readSlot(client: Client, slotName: string): Promise<SlotRow | undefined> {
  const { rows } = await client.query<{
    plugin: string | null;
    slot_type: string;
    database: string | null;
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
  }>(
    `SELECT plugin, slot_type, database, active, active_pid, confirmed_flush_lsn::text, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slotName],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    plugin: r.plugin,
    slotType: r.slot_type,
    database: r.database,
    active: r.active,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn,
    walStatus: r.wal_status,
  };
}

export interface SlotCheck {
  /** Create the slot when it is missing (first start only: on reconnect a missing slot means lost changes). */
  readonly create: boolean;
  /** PID of our own previous walsender: if it still holds the slot, it is terminated instead of reported. */
  readonly ownStalePid?: number;
}

/**
 * Returns the slot's confirmed_flush_lsn (where streaming will resume), creating the slot
 * when asked. Throws a clear error when the slot is unusable.
 */
export async function ensureSlot(client: Client, slotName: string, check: SlotCheck, log: Logger): Promise<Lsn> {
  let slot = await readSlot(client, slotName);
  if (!slot) {
    if (!check.create) {
      throw new ConfigError(
        `replication slot "${slotName}" does not exist: create it (SELECT pg_create_logical_replication_slot('${slotName}', 'pgoutput')) ` +
          `or set PG_CREATE_SLOT=true; if it existed before, changes since were not seen: backfill the caches`,
        'SLOT_MISSING',
      );
    }
    try {
      await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
      log.info({ slot: slotName }, 'created replication slot');
    } catch (err) {
      if ((err as { code?: string }).code !== '42710') throw setupError(`cannot create replication slot "${slotName}"`, err);
    }
    slot = await readSlot(client, slotName);
    if (!slot) throw new TransientError(`replication slot "${slotName}" vanished right after it was created`);
  }
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  if (slot.slotType !== 'logical' || slot.plugin !== 'pgoutput') {
    throw new ConfigError(`replication slot "${slotName}" is a ${slot.slotType} slot with plugin ${slot.plugin ?? 'none'}; a logical pgoutput slot is needed: drop it or choose another PG_SLOT`, 'SLOT_INVALID');
  }
  if (slot.database !== rows[0].db) {
    throw new ConfigError(`replication slot "${slotName}" belongs to database "${slot.database}", not "${rows[0].db}": choose another PG_SLOT`, 'SLOT_INVALID');
  }
  if (slot.walStatus === 'lost') {
    throw new ConfigError(
      `replication slot "${slotName}" has lost WAL it needed (wal_status = lost; max_slot_wal_keep_size was exceeded): changes were discarded. ` +
        `Drop and recreate it (SELECT pg_drop_replication_slot('${slotName}')) and backfill the caches`,
      'SLOT_LOST',
    );
  }
  if (slot.active && slot.activePid !== null) {
    if (check.ownStalePid !== undefined && slot.activePid === check.ownStalePid) {
      // Our previous connection died on our side but its walsender has not noticed yet.
      await client.query('SELECT pg_terminate_backend($1)', [slot.activePid]).catch(() => undefined);
    } else {
      throw new CdcError(
        `replication slot "${slotName}" is in use by another consumer (walsender PID ${slot.activePid}): ` +
          `only one consumer may stream a slot; stop the other one or use another PG_SLOT`,
        { code: 'SLOT_ACTIVE', retriable: true },
      );
    }
  }
  return slot.confirmedFlushLsn ? parseLsn(slot.confirmedFlushLsn) : ZERO_LSN;
}

/**
 * Waits (bounded) until the walsender with `pid` no longer holds the slot, so that a
 * consumer started right after us does not find it busy.
 */
export async function waitForSlotRelease(connectionString: string, slotName: string, pid: number, timeoutMs: number): Promise<boolean> {
  return withClient(connectionString, async (client) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const slot = await readSlot(client, slotName);
      if (!slot || slot.activePid !== pid) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
}

function setupError(what: string, err: unknown): CdcError {
  const code = (err as { code?: string }).code;
  // 42501: insufficient privilege, 53400: configuration limit (max_replication_slots) — retrying will not help.
  if (code === '42501' || code === '53400' || code?.startsWith('42')) return new ConfigError(`${what}: ${errorMessage(err)}`, 'SETUP');
  return new TransientError(`${what}: ${errorMessage(err)}`, err);
}
