import { ChangeSource, ConfigSpec, DeadLetterSink, ExplicitInvalidationPolicy, InvalidationSink } from '@cdc/core';
import { CompiledRules } from '@cdc/rules';
import { RedisClient } from '@cdc/sink-redis';
import { WorkerConfig } from '../config/worker-config';
import { BootFacts } from '../rules/reload-checks';

/**
 * The shape of a source or sink plugin. Types only: the registries (sources/registry.ts,
 * sinks/registry.ts) list the plugins, and config/worker-settings.ts composes them, so this
 * file imports neither and no import circle can form through it.
 */

/** What a source or sink plugin gets to build itself, besides its own parsed configuration. */
export interface PluginContext {
  readonly worker: WorkerConfig;
  /** The source's name ($SOURCE), for messages and metrics. */
  readonly sourceName: string;
  readonly explicitPolicy: ExplicitInvalidationPolicy;
  readonly rules: () => CompiledRules;
  readonly redis: RedisClient;
}

/** A running source plus whatever runs beside it (slot metrics, heartbeats). */
export interface SourceRuntime {
  readonly source: ChangeSource;
  readonly deadLetters?: DeadLetterSink;
  /** Called after the pipeline started; returns a stopper. */
  background?(): () => Promise<void> | void;
}

/**
 * When a source lets only one replica stream at a time (Postgres: one reader per slot), it
 * hands the pipeline a Leadership: the pipeline streams between `promote` and `demote`.
 */
export interface Leadership {
  /** Resolves once the replica takes part in the election; calls promote/demote as leadership changes. */
  start(promote: () => Promise<void>, demote: (reason: string) => Promise<void>): Promise<void>;
  /** Demotes (stops streaming) before giving leadership up. */
  stop(): Promise<void>;
  /** A start attempt failed while this replica leads: clear what a former leader left behind (retried after). */
  recoverStartFailure?(err: unknown): Promise<void>;
}

/** A source: declares and parses its configuration once, then builds itself from it. */
export interface SourcePlugin<C = unknown> {
  readonly name: string;
  readonly config: ConfigSpec<C>;
  create(config: C, ctx: PluginContext): Promise<SourceRuntime>;
  /** Leader election, when this configuration asks for it; without it the replica streams at once. */
  leadership?(config: C): Leadership | undefined;
  /** What this configuration and the boot rules fix for the life of the process (a publication). */
  bootFacts?(config: C, rules: CompiledRules): BootFacts;
}

/** An output beyond Redis L2 (which every deployment has): L1 pub/sub, CDN outbox, ... */
export interface SinkPlugin<C = unknown> {
  readonly name: string;
  readonly config: ConfigSpec<C>;
  /** Whether the rules need this sink at all; its variables are read only then. Default: always. */
  wanted?(rules: CompiledRules): boolean;
  /** Whether its configuration turns it on. Default: on. */
  enabled?(config: C): boolean;
  /** Problems of this configuration with these rules (an alias the rules name but nobody configured). */
  check?(config: C, rules: CompiledRules): string[];
  bootFacts?(config: C, rules: CompiledRules): BootFacts;
  create(config: C, ctx: PluginContext): Promise<{ sink: InvalidationSink; background?(): () => Promise<void> | void }>;
}

/** A plugin with its configuration read, ready to build (the configuration's type stays with the plugin). */
export interface ConfiguredSink {
  readonly name: string;
  create(ctx: PluginContext): Promise<{ sink: InvalidationSink; background?(): () => Promise<void> | void }>;
}

export interface ConfiguredSource<C = unknown> {
  readonly plugin: SourcePlugin<C>;
  readonly config: C;
}
