import { ConfigError, ConfigSpec, Env, ExplicitInvalidationPolicy, field, invalidEnvironment, readField } from '@cdc/core';
import { CompiledRules, loadRulesFile } from '@cdc/rules';
import { REDIS_CONFIG, RedisConfig } from '@cdc/sink-redis';
import { ConfiguredSink, ConfiguredSource, SinkPlugin, SourcePlugin } from '../pipeline/plugins';
import { BootFacts } from '../rules/reload-checks';
import { SINK_PLUGINS } from '../sinks/registry';
import { SOURCE_PLUGINS } from '../sources/registry';
import { WORKER_CONFIG, WorkerConfig, explicitPolicy, rulesLoadOptions } from './worker-config';

export const WORKER_SETTINGS = Symbol('WORKER_SETTINGS');

/**
 * Everything `run` needs, each component's variables read once into typed objects at boot
 * (by `loadWorkerSettings`, then handed to `runWorker`). Nothing downstream sees the environment.
 */
export interface WorkerSettings<C = unknown> {
  readonly worker: WorkerConfig;
  readonly explicitPolicy: ExplicitInvalidationPolicy;
  readonly source: ConfiguredSource<C>;
  readonly redis: RedisConfig;
  /** The enabled sinks after Redis L2, in apply order. */
  readonly sinks: readonly ConfiguredSink[];
  /** The rules file as loaded and checked against the environment before boot (RULES_FILE). */
  readonly rules: CompiledRules;
  /** What the boot configuration and rules fix for the life of the process (what a reload is checked against). */
  readonly bootFacts: BootFacts;
}

/** $SOURCE: its choices are the registry's names. */
export const SOURCE_FIELD = field.oneOf(
  SOURCE_PLUGINS.map((p) => p.name),
  { name: 'SOURCE', description: 'which change stream to follow', default: SOURCE_PLUGINS[0].name },
);

/** Every component's declared configuration, for the configuration reference (README) and its spec. */
export function configurationReference(): ReadonlyArray<ConfigSpec<unknown>> {
  const worker: ConfigSpec<unknown> = { ...WORKER_CONFIG, fields: [SOURCE_FIELD, ...WORKER_CONFIG.fields] };
  return [worker, ...SOURCE_PLUGINS.map((p) => p.config), REDIS_CONFIG, ...SINK_PLUGINS.map((p) => p.config)];
}

export interface LoadOptions<C> {
  /** The source a command works with whatever $SOURCE says (`backfill postgres`, `replay kafka`). */
  readonly source?: SourcePlugin<C>;
  /** The command reads no change stream (`dead-letters redrive`): the source's variables are not read. */
  readonly needsSource?: boolean;
  /** Rules already loaded (the deploy specs check manifests against examples/): RULES_FILE is not read. */
  readonly rules?: CompiledRules;
}

/**
 * Reads the worker's, the source's, Redis's and every wanted sink's variables and loads the
 * rules file. Every bad variable of every component is named in one ConfigError (the CLI
 * exits 2); the rules file's own errors (with positions) come when the environment is fine.
 */
export function loadWorkerSettings<C = unknown>(env: Env, options: LoadOptions<C> = {}): WorkerSettings<C> {
  const problems: string[] = [];
  const before = problems.length;
  const worker = WORKER_CONFIG.read(env, problems);
  const workerOk = problems.length === before;
  const plugin = (options.source ?? pickSource(env, problems)) as SourcePlugin<C> | undefined;
  const sourceConfig = plugin && options.needsSource !== false ? plugin.config.read(env, problems) : undefined;
  const redis = REDIS_CONFIG.read(env, problems);

  let rules: CompiledRules | undefined = options.rules;
  if (workerOk && !rules) {
    try {
      rules = loadRulesFile(worker.RULES_FILE, rulesLoadOptions(worker));
    } catch (err) {
      // A bad environment is reported first: it may be why the rules cannot be read (RULES_FILE).
      if (problems.length === 0 || !(err instanceof ConfigError)) throw err;
    }
  }
  const sinks: ConfiguredSink[] = [];
  const bootFacts: Array<BootFacts> = [];
  if (rules) {
    for (const sink of SINK_PLUGINS) {
      const configured = configureSink(sink, env, rules, problems, bootFacts);
      if (configured) sinks.push(configured);
    }
  }
  if (problems.length || !rules || !plugin) throw invalidEnvironment(problems);
  if (sourceConfig !== undefined && plugin.bootFacts) bootFacts.push(plugin.bootFacts(sourceConfig, rules));
  return {
    worker,
    explicitPolicy: explicitPolicy(worker),
    source: { plugin, config: sourceConfig as C },
    redis,
    sinks,
    rules,
    bootFacts: Object.assign({}, ...bootFacts) as BootFacts,
  };
}

function pickSource(env: Env, problems: string[]): SourcePlugin | undefined {
  const name = readField(SOURCE_FIELD, env, problems);
  return SOURCE_PLUGINS.find((p) => p.name === name);
}

function configureSink<C>(sink: SinkPlugin<C>, env: Env, rules: CompiledRules, problems: string[], facts: BootFacts[]): ConfiguredSink | undefined {
  if (sink.wanted && !sink.wanted(rules)) return undefined;
  const config = sink.config.read(env, problems);
  if (sink.enabled && !sink.enabled(config)) return undefined;
  problems.push(...(sink.check?.(config, rules) ?? []));
  if (sink.bootFacts) facts.push(sink.bootFacts(config, rules));
  return { name: sink.name, create: (ctx) => sink.create(config, ctx) };
}
