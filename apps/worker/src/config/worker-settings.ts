import { CompiledRules } from '@cdc/rules';
import { WorkerEnv } from './worker-config';

export const WORKER_SETTINGS = Symbol('WORKER_SETTINGS');

/** Everything `run` needs, validated at boot (by `registerRun` in cli/run.command.ts, then handed to `runWorker`). */
export interface WorkerSettings {
  readonly worker: WorkerEnv;
  /** The raw environment, for the source and sink plugins to read their own validated config from. */
  readonly env: NodeJS.ProcessEnv;
  /** The rules file as loaded and checked against the environment before boot (RULES_FILE). */
  readonly rules: CompiledRules;
}
