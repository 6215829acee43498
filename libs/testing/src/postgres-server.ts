import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, waitFor } from './free-port';

/** Finds the newest installed PostgreSQL binaries (Debian layout), or PG_BIN. */
/** One query on a connection of its own (primary and standby alike). */
async function queryOnce<T>(url: string, sql: string, params: unknown[]): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = join(base, v, 'bin');
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL binaries not found: install postgresql or set PG_BIN');
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // initdb and postgres refuse to run as root: run them as the postgres system user.
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export interface PostgresServerOptions {
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
  /**
   * Also start a physical replica (pg_basebackup -R) and name it in the primary's
   * synchronous_standby_names, with synchronous_commit=on: every commit then waits for the
   * standby's flush before it becomes visible. See `standby`.
   */
  synchronousStandby?: boolean;
}

/** The application_name the synchronous standby connects with. */
const STANDBY_NAME = 'cdc_test_standby';

/**
 * A throwaway PostgreSQL cluster with wal_level=logical in a temp dir on a free port,
 * for tests, the demo and the benchmark. Trust auth, superuser `postgres`.
 */
export class PostgresServer {
  readonly dataDir: string;
  port = 0;
  /** The synchronous standby, when started with `synchronousStandby`. */
  standby: StandbyServer | undefined;
  private proc?: ChildProcess;
  private readonly ids = postgresIds();
  private readonly bin = postgresBinDir();

  private constructor(
    private readonly root: string,
    private readonly options: PostgresServerOptions,
  ) {
    this.dataDir = join(root, 'data');
  }

  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const root = mkdtempSync(join(tmpdir(), 'cdc-pg-'));
    const server = new PostgresServer(root, options);
    if (server.ids) chownSync(root, server.ids.uid, server.ids.gid);
    execFileSync(join(server.bin, 'initdb'), ['-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], {
      stdio: 'ignore',
      ...(server.ids ?? {}),
    });
    server.port = await freePort();
    await server.launch();
    if (options.synchronousStandby) {
      const limits = ['max_connections', 'max_wal_senders', 'max_worker_processes', 'max_locks_per_transaction', 'max_prepared_transactions'];
      const inherited = Object.fromEntries(Object.entries(server.settings()).filter(([k]) => limits.includes(k)));
      server.standby = await StandbyServer.start(server, join(root, 'standby'), server.bin, server.ids, inherited);
      await server.query(`ALTER SYSTEM SET synchronous_standby_names = '${STANDBY_NAME}'`);
      await server.query('SELECT pg_reload_conf()');
      await waitFor('the standby to be synchronous', async () => {
        const rows = await server.query<{ s: string }>('SELECT sync_state AS s FROM pg_stat_replication WHERE application_name = $1', [STANDBY_NAME]);
        return rows[0]?.s === 'sync';
      });
    }
    return server;
  }


  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private async launch(): Promise<void> {
    const args = ['-D', this.dataDir, '-p', String(this.port)];
    for (const [k, v] of Object.entries(this.settings())) args.push('-c', `${k}=${v}`);
    this.proc = spawn(join(this.bin, 'postgres'), args, { stdio: 'ignore', ...(this.ids ?? {}) });
    this.proc.unref();
    await waitFor('postgres to accept connections', async () => {
      const c = new Client({ connectionString: this.url });
      try {
        await c.connect();
        await c.query('select 1');
        return true;
      } finally {
        await c.end().catch(() => undefined);
      }
    });
  }

  private settings(): Record<string, string | number> {
    return {
      wal_level: 'logical',
      max_replication_slots: 20,
      max_wal_senders: 20,
      fsync: 'off',
      synchronous_commit: 'on',
      full_page_writes: 'off',
      listen_addresses: '127.0.0.1',
      unix_socket_directories: this.root,
      max_connections: 200,
      shared_buffers: '128MB',
      max_wal_size: '4GB',
      log_min_messages: 'fatal',
      ...this.options.settings,
    };
  }

  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return queryOnce<T>(this.url, sql, params);
  }

  /** Stops the server, fast shutdown (or SIGKILL with `crash`). */
  async stop(crash = false): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    proc.ref(); // keep the loop alive until it has exited
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(crash ? 'SIGKILL' : 'SIGINT');
    await exited;
    if (crash) {
      // Children (backends, walsenders) outlive a SIGKILLed postmaster briefly; wait for the pid file lock to go.
      await waitFor('postgres children to exit', async () => {
        try {
          execFileSync('pgrep', ['-f', `-D ${this.dataDir}`], { stdio: 'ignore' });
          return false;
        } catch {
          return true;
        }
      }, 10_000).catch(() => undefined);
      rmSync(join(this.dataDir, 'postmaster.pid'), { force: true });
    }
    this.proc = undefined;
  }

  /**
   * Moves the transaction counter to `nextXid` (32-bit) in `epoch`, e.g. just below an epoch
   * boundary, for tests of 32-bit xid handling. Freezes the database first (older xids would
   * look like the future), resets with pg_resetwal, and creates the pg_xact segment the new
   * xids need. Not for a server with a standby.
   */
  async setNextXid(epoch: number, nextXid: number): Promise<void> {
    await this.query('VACUUM FREEZE');
    await this.query('CHECKPOINT');
    await this.stop();
    execFileSync(join(this.bin, 'pg_resetwal'), ['-e', String(epoch), '-x', String(nextXid), this.dataDir], { stdio: 'ignore', ...(this.ids ?? {}) });
    // One pg_xact segment holds 32 pages of 8192 bytes at 4 transactions a byte.
    const segment = join(this.dataDir, 'pg_xact', Math.floor(nextXid / (32 * 8192 * 4)).toString(16).toUpperCase().padStart(4, '0'));
    if (!existsSync(segment)) {
      writeFileSync(segment, Buffer.alloc(32 * 8192));
      if (this.ids) chownSync(segment, this.ids.uid, this.ids.gid);
    }
    await this.launch();
  }

  async restart(crash = false): Promise<void> {
    await this.stop(crash);
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.standby?.stop();
    await this.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * A hot standby streaming from a PostgresServer. `pauseReceiving()` stops its WAL receiver
 * (SIGSTOP), so the primary's commits wait for it: flushed, decodable by a walsender, but not
 * visible to new snapshots until `resumeReceiving()`.
 */
export class StandbyServer {
  port = 0;
  private proc?: ChildProcess;
  private receiverPid: number | undefined;

  private constructor(
    private readonly dataDir: string,
    private readonly bin: string,
    private readonly ids: { uid: number; gid: number } | undefined,
  ) {}

  /** `inherited`: the primary's settings a standby must not go below (max_connections, ...). */
  static async start(
    primary: PostgresServer,
    dataDir: string,
    bin: string,
    ids: { uid: number; gid: number } | undefined,
    inherited: Record<string, string | number>,
  ): Promise<StandbyServer> {
    const standby = new StandbyServer(dataDir, bin, ids);
    execFileSync(join(bin, 'pg_basebackup'), ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'], {
      stdio: 'ignore',
      ...(ids ?? {}),
    });
    standby.port = await freePort();
    const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres application_name=${STANDBY_NAME}`;
    const settings: Record<string, string | number> = {
      primary_conninfo: conninfo,
      hot_standby: 'on',
      fsync: 'off',
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dataDir,
      wal_receiver_status_interval: '10s',
      log_min_messages: 'fatal',
      ...inherited,
    };
    const args = ['-D', dataDir, '-p', String(standby.port)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    standby.proc = spawn(join(bin, 'postgres'), args, { stdio: 'ignore', ...(ids ?? {}) });
    standby.proc.unref();
    await waitFor('the standby to stream', async () => {
      const rows = await standby.query<{ pid: number | null }>('SELECT pid FROM pg_stat_wal_receiver WHERE status = $1', ['streaming']).catch(() => []);
      return (rows[0]?.pid ?? null) !== null;
    });
    return standby;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return queryOnce<T>(this.url, sql, params);
  }

  /** Freezes the WAL receiver: the primary's commits wait (synchronous_commit) until resumed. */
  async pauseReceiving(): Promise<void> {
    const rows = await this.query<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver');
    const pid = rows[0]?.pid;
    if (!pid) throw new Error('the standby has no WAL receiver');
    process.kill(pid, 'SIGSTOP');
    this.receiverPid = pid;
  }

  resumeReceiving(): void {
    if (this.receiverPid === undefined) return;
    process.kill(this.receiverPid, 'SIGCONT');
    this.receiverPid = undefined;
  }

  async stop(): Promise<void> {
    this.resumeReceiving();
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    proc.ref();
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGINT');
    await exited;
    this.proc = undefined;
  }
}
