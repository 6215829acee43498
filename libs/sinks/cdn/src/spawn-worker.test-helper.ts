import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Starts purge-worker-runner in a child process (compiled .js under dist/, or .ts through tsx) and waits for `ready`. */
export async function spawnPurgeWorker(env: Record<string, string>): Promise<ChildProcess> {
  const js = join(__dirname, 'purge-worker-runner.test-helper.js');
  const args = existsSync(js) ? [js] : ['--import', 'tsx', join(__dirname, 'purge-worker-runner.test-helper.ts')];
  const child = spawn(process.execPath, args, {
    cwd: resolve(__dirname, '../../../..').replace(/[\\/]dist$/, ''),
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`purge worker did not start: ${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`purge worker exited early (${code}): ${stderr}`));
    });
  });
  child.stdout?.resume();
  return child;
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}
