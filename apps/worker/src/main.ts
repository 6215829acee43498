#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { CdcError, invalidEnvironment, readField, rootLogger } from '@cdc/core';
import { COMMANDS } from './cli/commands';
import { WORKER_FIELDS } from './config/worker-config';

/**
 * cdc-invalidator: the CLI entry point. Every command lives in cli/<name>.command.ts and is
 * listed once in cli/commands.ts.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('cdc-invalidator')
    .description('Invalidates Redis, L1 and CDN caches from Postgres logical replication or Debezium/Kafka change streams, driven by YAML rules.')
    .showHelpAfterError()
    .exitOverride()
    // Every command logs; a LOG_LEVEL pino does not know is named here, before anything runs.
    .hook('preAction', () => {
      const problems: string[] = [];
      readField(WORKER_FIELDS.LOG_LEVEL, process.env, problems);
      if (problems.length) throw invalidEnvironment(problems);
    });
  for (const register of COMMANDS) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CdcError) {
      // Expected failures (bad rules, bad environment) get a clean message, not a stack.
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    rootLogger().fatal({ err }, 'unexpected error');
    return 1;
  }
}

/**
 * A reader that went away (a closed pipe: EPIPE) must never stop the process from working or
 * from stopping: without a listener the 'error' event would be an uncaught exception.
 */
function ignoreClosedOutput(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

if (require.main === module) {
  ignoreClosedOutput(process.stdout);
  ignoreClosedOutput(process.stderr);
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
