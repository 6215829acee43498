import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, waitFor } from './free-port';

/** A throwaway redis-server on a free loopback port (no persistence), for tests, demo and bench. */
export class RedisServer {
  port = 0;
  private proc?: ChildProcess;

  private constructor(
    private readonly dir: string,
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(mkdtempSync(join(tmpdir(), 'cdc-redis-')), extraArgs);
    server.port = await freePort();
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs];
    this.proc = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: 'ignore' });
    this.proc.unref();
    await waitFor('redis to accept connections', async () => {
      const c = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } finally {
        c.disconnect();
      }
    });
  }

  client(): Redis {
    return new Redis(this.port, '127.0.0.1');
  }

  async stop(crash = false): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    proc.ref(); // keep the loop alive until it has exited
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(crash ? 'SIGKILL' : 'SIGTERM');
    await exited;
    this.proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop(true);
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
