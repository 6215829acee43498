import { ChangeSource, DeadLetterSink, InvalidationSink } from '@cdc/core';
import { CompiledRules } from '@cdc/rules';
import { RedisClient, redisConfigFromEnv } from '@cdc/sink-redis';
import { collectConfig } from '../config/worker-config';
import { WorkerEnv } from '../config/worker-config';
import { SOURCE_PLUGINS } from '../sources/registry';
import { SINK_PLUGINS } from '../sinks/registry';

/** What a source or sink plugin gets to build itself. */
export interface PluginContext {
  readonly env: NodeJS.ProcessEnv;
  readonly worker: WorkerEnv;
  readonly rules: () => CompiledRules;
  readonly redis: RedisClient;
}

/** A running source plus whatever runs beside it (slot metrics, leader election). */
export interface SourceRuntime {
  readonly source: ChangeSource;
  readonly deadLetters?: DeadLetterSink;
  /** Called after the pipeline started; returns a stopper. */
  background?(): () => Promise<void> | void;
}

/** A source: validates its own environment variables and builds itself. */
export interface SourcePlugin {
  readonly name: string;
  validateEnv(env: NodeJS.ProcessEnv): void;
  create(ctx: PluginContext): Promise<SourceRuntime>;
}

/** An output beyond Redis L2 (which every deployment has): L1 pub/sub, CDN outbox, ... */
export interface SinkPlugin {
  readonly name: string;
  /** Whether this deployment uses the sink (from config and rules). */
  enabled(ctx: Pick<PluginContext, 'env' | 'worker' | 'rules'>): boolean;
  validateEnv(env: NodeJS.ProcessEnv, rules?: CompiledRules): void;
  create(ctx: PluginContext): Promise<{ sink: InvalidationSink; background?(): () => Promise<void> | void }>;
}

/** Validates every variable the chosen source and the sinks read; one error names all bad ones. */
export function validatePluginEnv(worker: WorkerEnv, env: NodeJS.ProcessEnv, rules: CompiledRules): void {
  const source = SOURCE_PLUGINS[worker.SOURCE];
  const parsers: Record<string, () => unknown> = {
    source: () => source.validateEnv(env),
    redis: () => redisConfigFromEnv(env),
  };
  for (const sink of SINK_PLUGINS) {
    if (sink.enabled({ env, worker, rules: () => rules })) parsers[sink.name] = () => sink.validateEnv(env, rules);
  }
  collectConfig(parsers);
}
