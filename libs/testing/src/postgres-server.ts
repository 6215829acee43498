import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, waitFor } from './free-port';

/** Finds the newest installed PostgreSQL binaries (Debian layout), or PG_BIN. */
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
}

/**
 * A throwaway PostgreSQL cluster with wal_level=logical in a temp dir on a free port,
 * for tests, the demo and the benchmark. Trust auth, superuser `postgres`.
 */
export class PostgresServer {
  readonly dataDir: string;
  port = 0;
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
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private async launch(): Promise<void> {
    const settings: Record<string, string | number> = {
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
    const args = ['-D', this.dataDir, '-p', String(this.port)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
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

  async query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: this.url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
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

  async restart(crash = false): Promise<void> {
    await this.stop(crash);
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}
