import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, WriteStream } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { freePort, waitFor } from '@cdc/testing';

/** Path of the compiled CLI (tests run from dist/, so resolve relative to the repo root). */
export function cliPath(): string {
  return join(__dirname, '..', '..', 'apps', 'worker', 'src', 'main.js');
}

/** The worker's runtime flags, as the container image sets them (Dockerfile NODE_OPTIONS). */
export const WORKER_NODE_OPTIONS = '--max-old-space-size=256';

/**
 * The real worker as a child process (`cdc-invalidator run`), for tests that kill -9 it.
 * Logs go to a file so a failing test can be debugged.
 */
export class WorkerProcess {
  private proc?: ChildProcess;
  private log?: WriteStream;
  port = 0;

  constructor(
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {}

  async start(waitReady = true): Promise<void> {
    this.port = await freePort();
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    this.proc = spawn(process.execPath, [cliPath(), 'run'], {
      env: { ...process.env, NODE_OPTIONS: WORKER_NODE_OPTIONS, LOG_LEVEL: 'info', ...this.env, HTTP_PORT: String(this.port), HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.pipe(this.log, { end: false });
    this.proc.stderr!.pipe(this.log, { end: false });
    if (waitReady) await this.waitReady();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'worker /readyz',
      async () => {
        if (this.proc && this.proc.exitCode !== null) throw new Error(`worker exited with ${this.proc.exitCode} (see ${this.logFile})`);
        const res = await httpGet(`http://127.0.0.1:${this.port}/readyz`);
        return res.status === 200;
      },
      timeoutMs,
      100,
    );
  }

  async metrics(): Promise<string> {
    return (await httpGet(`http://127.0.0.1:${this.port}/metrics`)).body;
  }

  /**
   * Waits for the process to exit on its own; resolves its exit code, or undefined when it is
   * still running after `timeoutMs` (the caller decides whether that is a failure).
   */
  async waitExit(timeoutMs: number): Promise<number | null | undefined> {
    const proc = this.proc;
    if (!proc) return undefined;
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  /** Closes the read end of the worker's stdout pipe: its next writes fail with EPIPE. */
  closeStdout(): void {
    const out = this.proc?.stdout;
    if (!out) return;
    out.unpipe();
    out.destroy();
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed or acknowledged. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM and wait for the exit code. */
  async terminate(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill(sig);
    const code = await exited;
    this.proc = undefined;
    return code;
  }
}

/**
 * GET on a fresh connection. Tests block their event loop in spawnSync (CLI runs) between
 * requests, so a pooled keep-alive socket can be one the worker already closed: fetch then
 * fails with "other side closed". A new connection per request cannot be stale.
 */
function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
