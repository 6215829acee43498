import { ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, waitFor } from './free-port';

const execFileAsync = promisify(execFile);

/** The repository's scripts/kafka folder, found from here whether we run from src (tsx) or dist. */
export function kafkaScriptsDir(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'scripts', 'kafka', 'start-kafka.sh');
    if (existsSync(candidate)) return dirname(candidate);
    const parent = dirname(dir);
    if (parent === dir) throw new Error('scripts/kafka/start-kafka.sh not found above ' + __dirname);
    dir = parent;
  }
}

export interface KafkaServerOptions {
  /** Kafka version to fetch and run (default: the script's default, see docs/kafka.md). */
  version?: string;
  /** JVM heap, e.g. '384m' (default 512m). */
  heap?: string;
}

/**
 * A throwaway single-node Kafka broker (KRaft, combined controller+broker) on free loopback
 * ports, run by scripts/kafka/start-kafka.sh (jars from Maven Central, cached). `restart`
 * keeps the data dir and ports, so committed offsets and topics survive like in production.
 */
export class KafkaServer {
  port = 0;
  controllerPort = 0;
  private proc?: ChildProcess;

  private constructor(
    readonly dir: string,
    private readonly options: KafkaServerOptions,
  ) {}

  static async start(options: KafkaServerOptions = {}): Promise<KafkaServer> {
    const server = new KafkaServer(mkdtempSync(join(tmpdir(), 'cdc-kafka-')), options);
    // The first run downloads the jars; do that apart so the start-up wait stays short.
    await execFileAsync(join(kafkaScriptsDir(), 'start-kafka.sh'), ['--fetch-only'], {
      env: server.env(),
      timeout: 10 * 60_000,
    });
    server.port = await freePort();
    server.controllerPort = await freePort();
    try {
      await server.launch();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get brokers(): string[] {
    return [this.bootstrap];
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** A kafkajs client for test set-up (topics, producing); quiet logs. */
  client(clientId = 'cdc-test'): Kafka {
    return new Kafka({ brokers: this.brokers, clientId, logLevel: logLevel.NOTHING });
  }

  async createTopic(topic: string, numPartitions = 1): Promise<void> {
    const admin = this.client().admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...(this.options.version ? { KAFKA_VERSION: this.options.version } : {}),
      ...(this.options.heap ? { KAFKA_HEAP: this.options.heap } : {}),
    };
  }

  private async launch(): Promise<void> {
    const log = openSync(join(this.dir, 'broker.log'), 'a');
    const args = ['--dir', this.dir, '--port', String(this.port), '--controller-port', String(this.controllerPort)];
    this.proc = spawn(join(kafkaScriptsDir(), 'start-kafka.sh'), args, { stdio: ['ignore', log, log], env: this.env() });
    closeSync(log);
    this.proc.unref();
    const proc = this.proc;
    let exitedEarly: (() => void) | undefined;
    const died = new Promise<never>((_, reject) => {
      exitedEarly = () => reject(new Error(`broker exited with ${proc.exitCode}:\n${this.logTail()}`));
      proc.once('exit', exitedEarly);
    });
    const ready = waitFor(
      'kafka to accept connections',
      async () => {
        const admin = this.client('cdc-test-probe').admin({ retry: { retries: 0 } });
        try {
          await admin.connect();
          const cluster = await admin.describeCluster();
          return cluster.brokers.length > 0;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      90_000,
      250,
    );
    try {
      await Promise.race([ready, died]);
    } finally {
      if (exitedEarly) proc.removeListener('exit', exitedEarly);
      died.catch(() => undefined);
      ready.catch(() => undefined);
    }
  }

  /** The last lines of the broker's log, for failure messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'broker.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Stops the broker: SIGTERM (controlled shutdown) or SIGKILL with `crash`. */
  async stop(crash = false): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.ref(); // keep the loop alive until it has exited
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(crash ? 'SIGKILL' : 'SIGTERM');
    const forced = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(forced);
    this.proc = undefined;
  }

  /** kill -9 of the broker. */
  kill(): Promise<void> {
    return this.stop(true);
  }

  /** Same ports, same data: topics and committed offsets survive. */
  async restart(crash = false): Promise<void> {
    await this.stop(crash);
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
