import { Command } from 'commander';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { childLogger, collectProcessMetrics, errorMessage } from '@cdc/core';
import { PipelineService } from '../pipeline/pipeline.service';
import { WorkerSettings, loadWorkerSettings } from '../config/worker-settings';
import { SOURCE_PLUGINS } from '../sources/registry';
import { WorkerModule } from '../worker.module';

/**
 * `run`: the long-running worker. Validates the whole environment first (one message listing
 * every bad variable), then boots the Nest application: HTTP (metrics, probes, admin) first,
 * then the pipeline, which retries what is transient and makes the process exit 2 on what is not.
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Stream changes and invalidate caches until SIGTERM (configuration from the environment; see README)')
    .option('--rules <file>', 'rules file (overrides $RULES_FILE)')
    .option('--source <name>', `${SOURCE_PLUGINS.map((p) => p.name).join(' | ')} (overrides $SOURCE)`)
    .option('--port <port>', 'HTTP port for /metrics, /healthz, /readyz (overrides $HTTP_PORT)')
    .action(async (opts: { rules?: string; source?: string; port?: string }) => {
      const env = { ...process.env };
      if (opts.rules) env.RULES_FILE = opts.rules;
      if (opts.source) env.SOURCE = opts.source;
      if (opts.port) env.HTTP_PORT = opts.port;
      // Fails early (every bad variable, then the rules with positions) before anything connects; the app starts with these very rules.
      await runWorker(loadWorkerSettings(env));
    });
}

export async function runWorker(settings: WorkerSettings): Promise<void> {
  const log = childLogger('main');
  collectProcessMetrics();
  const app = await NestFactory.create(WorkerModule.forRoot(settings), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(PinoNestLogger));
  // Our own signal handling (not enableShutdownHooks, which re-raises the signal): a stop that
  // finishes in time exits 0; one that overruns the deadline exits 1 before the pod is killed.
  const hardDeadline = settings.worker.SHUTDOWN_TIMEOUT_MS + 5_000;
  let stopping = false;
  const stop = (code: number, why: Record<string, unknown>): void => {
    if (stopping) return;
    stopping = true;
    log.info({ ...why, deadlineMs: settings.worker.SHUTDOWN_TIMEOUT_MS }, 'shutting down');
    setTimeout(() => {
      log.error({ deadlineMs: hardDeadline }, 'shutdown deadline passed; exiting without waiting further');
      process.exit(1);
    }, hardDeadline).unref();
    app.close().then(
      () => process.exit(code),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(0, { signal }));
  // A permanent failure (wal_level, authentication, a lost slot): say it on stderr, stop, exit 2.
  const fatal = (err: unknown): void => {
    if (stopping) return;
    const message = errorMessage(err);
    log.error({ err: message }, 'cannot start: this needs an operator, not a retry');
    safeWrite(process.stderr, `error: ${message}\n`);
    stop(2, { reason: 'fatal' });
  };
  // HTTP first: /healthz and /readyz answer (readyz 503 with the reason) while the stream connects.
  await app.listen(settings.worker.HTTP_PORT, settings.worker.HTTP_HOST);
  log.info({ port: settings.worker.HTTP_PORT, source: settings.source.plugin.name }, 'worker started');
  const pipeline = app.get(PipelineService);
  pipeline.onFatal = fatal;
  await pipeline.start().catch(fatal);
}

/** A write to stdout/stderr that a closed pipe cannot turn into an exception. */
function safeWrite(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // the reader is gone; nothing else to tell
  }
}
