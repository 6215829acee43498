import { ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KafkaServer, PostgresServer, freePort, kafkaScriptsDir, waitFor } from '@cdc/testing';

const execFileAsync = promisify(execFile);

export interface DebeziumOptions {
  /** Topic prefix: topics are `<prefix>.<schema>.<table>`. Default `cdc`. */
  prefix?: string;
  /** table.include.list, e.g. ['public.products']. Default: every table. */
  tables?: string[];
  /** Embed JSON schemas in messages (JsonConverter schemas.enable). Default true. */
  schemas?: boolean;
  /** Extra connector properties. Default sets snapshot.mode=no_data (tests change rows after start). */
  connector?: Record<string, string | number | boolean>;
}

/**
 * Kafka Connect (standalone) running the Debezium PostgreSQL connector, started by
 * scripts/kafka/start-debezium.sh. `start` resolves once the connector streams: its
 * replication slot is active, so a change committed afterwards reaches Kafka.
 */
export class DebeziumConnect {
  private proc?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly restUrl: string,
    readonly slot: string,
  ) {}

  /** Downloads the Connect worker and connector jars into the cache (once). Throws if Maven cannot. */
  static async fetch(): Promise<void> {
    await execFileAsync(join(kafkaScriptsDir(), 'start-debezium.sh'), ['--fetch-only'], { timeout: 10 * 60_000 });
  }

  static async start(pg: PostgresServer, kafka: KafkaServer, options: DebeziumOptions = {}): Promise<DebeziumConnect> {
    await DebeziumConnect.fetch();
    const prefix = options.prefix ?? 'cdc';
    const slot = `debezium_${prefix.replace(/[^a-zA-Z0-9_]/g, '_')}`;
    const restPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'cdc-debezium-'));
    const connect = new DebeziumConnect(dir, `http://127.0.0.1:${restPort}`, slot);
    const connector = { 'snapshot.mode': 'no_data', ...options.connector };
    const args = [
      '--bootstrap', kafka.bootstrap,
      '--pg-port', String(pg.port),
      '--prefix', prefix,
      '--slot', slot,
      '--schemas', String(options.schemas ?? true),
      '--rest-port', String(restPort),
      '--dir', dir,
      ...(options.tables?.length ? ['--tables', options.tables.join(',')] : []),
      ...Object.entries(connector).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ];
    const log = openSync(join(dir, 'connect.log'), 'a');
    connect.proc = spawn(join(kafkaScriptsDir(), 'start-debezium.sh'), args, { stdio: ['ignore', log, log] });
    closeSync(log);
    connect.proc.unref();
    const proc = connect.proc;
    await waitFor(
      'debezium to stream from its replication slot',
      async () => {
        if (proc.exitCode !== null) throw new Error(`Kafka Connect exited with ${proc.exitCode}:\n${connect.logTail()}`);
        const rows = await pg.query<{ active: boolean }>('select active from pg_replication_slots where slot_name = $1', [slot]);
        return rows[0]?.active === true;
      },
      120_000,
      250,
    );
    return connect;
  }

  /** The last lines of the worker's log, for failure messages. */
  logTail(lines = 40): string {
    try {
      return readFileSync(join(this.dir, 'connect.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.ref();
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const forced = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(forced);
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface DebeziumStack {
  readonly pg: PostgresServer;
  readonly kafka: KafkaServer;
  readonly debezium: DebeziumConnect;
  /** Stops Debezium, Kafka and Postgres (in that order) and removes their temp dirs. */
  destroy(): Promise<void>;
}

export interface DebeziumStackOptions extends DebeziumOptions {
  /** SQL run in Postgres before Debezium starts (create tables, REPLICA IDENTITY FULL, seed rows). */
  setupSql?: string[];
}

/**
 * Postgres (wal_level=logical) + Kafka + Debezium, ready for changes: the reusable harness
 * for end-to-end tests (the pipeline's Redis assertions build on it). On failure, whatever
 * was started is stopped before the error is rethrown.
 */
export async function startDebeziumStack(options: DebeziumStackOptions = {}): Promise<DebeziumStack> {
  const started: Array<{ destroy(): Promise<void> }> = [];
  try {
    const pg = await PostgresServer.start();
    started.push(pg);
    for (const sql of options.setupSql ?? []) await pg.query(sql);
    const kafka = await KafkaServer.start();
    started.push(kafka);
    const debezium = await DebeziumConnect.start(pg, kafka, options);
    started.push(debezium);
    return {
      pg,
      kafka,
      debezium,
      async destroy() {
        for (const s of [...started].reverse()) await s.destroy().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of [...started].reverse()) await s.destroy().catch(() => undefined);
    throw err;
  }
}
