import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InvalidationSink, childLogger, errorMessage } from '@cdc/core';
import { InvalidationPipeline } from '@cdc/pipeline';
import { RedisClient, RedisInvalidationSink, createRedisClient, redisConfigFromEnv } from '@cdc/sink-redis';
import { WORKER_SETTINGS, WorkerSettings } from '../config/worker-settings';
import { RulesService } from '../rules/rules.service';
import { SINK_PLUGINS } from '../sinks/registry';
import { SOURCE_PLUGINS } from '../sources/registry';
import { PluginContext } from './plugins';
import { WorkerStatusService } from './worker-status.service';

/**
 * Composes source → rules → sinks for `run` and owns their lifecycle: started after the
 * HTTP server is up (so probes answer while connecting), stopped on SIGTERM within the
 * shutdown deadline, finishing and acking the batch in flight.
 */
@Injectable()
export class PipelineService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = childLogger('pipeline-service');
  private pipeline?: InvalidationPipeline;
  private redis?: RedisClient;
  private readonly stoppers: Array<() => Promise<void> | void> = [];
  private sinkList: readonly InvalidationSink[] = [];

  constructor(
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
    private readonly rules: RulesService,
    private readonly status: WorkerStatusService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { worker, env } = this.settings;
    this.redis = createRedisClient(redisConfigFromEnv(env));
    const ctx: PluginContext = { env, worker, rules: () => this.rules.current(), redis: this.redis };
    const sinks: InvalidationSink[] = [new RedisInvalidationSink({ client: this.redis })];
    const backgrounds: Array<() => () => Promise<void> | void> = [];
    for (const plugin of SINK_PLUGINS) {
      if (!plugin.enabled(ctx)) continue;
      const created = await plugin.create(ctx);
      sinks.push(created.sink);
      if (created.background) backgrounds.push(created.background);
    }
    const runtime = await SOURCE_PLUGINS[worker.SOURCE].create(ctx);
    if (runtime.background) backgrounds.push(runtime.background);
    this.sinkList = sinks;
    this.pipeline = new InvalidationPipeline(runtime.source, this.rules, sinks, runtime.deadLetters, {
      maxBatchEvents: worker.BATCH_MAX_EVENTS,
      lingerMs: worker.BATCH_LINGER_MS,
      sourceName: worker.SOURCE,
    });
    this.status.attach(this.pipeline, runtime.source);
    await this.pipeline.start();
    this.status.role = 'active';
    for (const start of backgrounds) this.stoppers.push(start());
    // A pipeline that dies (e.g. the slot was invalidated) makes /healthz fail so Kubernetes restarts the pod.
    void this.pipeline.done().then(() => {
      if (this.pipeline?.state === 'failed') this.status.fail(this.pipeline.error ?? 'pipeline failed');
    });
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.status.role = 'stopping';
    const deadline = this.settings.worker.SHUTDOWN_TIMEOUT_MS;
    const started = Date.now();
    await this.pipeline?.stop(deadline);
    // After the pipeline: the last batch may still dead-letter or queue purges through these.
    for (const stop of this.stoppers) await Promise.resolve(stop()).catch((err) => this.log.warn({ err: errorMessage(err) }, 'background stop failed'));
    this.redis?.disconnect();
    this.log.info({ signal, ms: Date.now() - started, position: this.pipeline?.lastAppliedPosition }, 'pipeline stopped');
  }

  get current(): InvalidationPipeline | undefined {
    return this.pipeline;
  }

  /** The sinks in the order the pipeline applies them (Redis L2, L1 pub/sub, CDN outbox), for manual invalidations. */
  get sinks(): readonly InvalidationSink[] {
    return this.sinkList;
  }
}
