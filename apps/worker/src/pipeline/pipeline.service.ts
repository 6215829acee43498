import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InvalidationSink, childLogger, errorMessage, sleep, withRetry } from '@cdc/core';
import { InvalidationPipeline } from '@cdc/pipeline';
import { RedisClient, RedisInvalidationSink, createRedisClient } from '@cdc/sink-redis';
import { WORKER_SETTINGS, WorkerSettings } from '../config/worker-settings';
import { RulesService } from '../rules/rules.service';
import { Leadership, PluginContext } from './plugins';
import { WorkerStatusService } from './worker-status.service';
import { isTransientStartFailure } from './start-failure';

type Stopper = () => Promise<void> | void;

/** Cap on the wait between two start attempts. */
const STARTUP_RETRY_MAX_DELAY_MS = 5_000;

/**
 * Composes source → rules → sinks for `run` and owns their lifecycle: started after the
 * HTTP server is up (so probes answer while connecting), stopped on SIGTERM within the
 * shutdown deadline, finishing and acking the batch in flight.
 *
 * A source that elects a leader (the Postgres plugin with LEADER_ELECTION=advisory-lock)
 * hands over a Leadership: the replica streams only while it leads, otherwise it stands by.
 * Recovery is the normal start path: a new leader resumes from the source's confirmed position.
 */
@Injectable()
export class PipelineService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = childLogger('pipeline-service');
  private pipeline?: InvalidationPipeline;
  private redis?: RedisClient;
  private ctx?: PluginContext;
  private leadership?: Leadership;
  private sinkList: readonly InvalidationSink[] = [];
  /** Run for the whole process (CDN purge worker). */
  private readonly processStoppers: Stopper[] = [];
  /** Run while streaming (slot metrics, DLQ producer). */
  private streamStoppers: Stopper[] = [];
  private transition: Promise<void> = Promise.resolve();
  private readonly stopSignal = new AbortController();

  constructor(
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
    private readonly rules: RulesService,
    private readonly status: WorkerStatusService,
  ) {}

  /** Builds the sinks; nothing connects yet (see start()). */
  async onApplicationBootstrap(): Promise<void> {
    const { worker } = this.settings;
    this.redis = createRedisClient(this.settings.redis);
    const ctx: PluginContext = {
      worker,
      sourceName: this.settings.source.plugin.name,
      explicitPolicy: this.settings.explicitPolicy,
      rules: () => this.rules.current(),
      redis: this.redis,
    };
    this.ctx = ctx;
    const { plugin, config } = this.settings.source;
    this.leadership = plugin.leadership?.(config);
    const sinks: InvalidationSink[] = [new RedisInvalidationSink({ client: this.redis, deleteLeases: worker.REDIS_DELETE_LEASES })];
    for (const plugin of this.settings.sinks) {
      const created = await plugin.create(ctx);
      sinks.push(created.sink);
      if (created.background) this.processStoppers.push(created.background());
    }
    this.sinkList = sinks;
  }

  /**
   * Starts streaming (or standing by for the leader lock). Called once the HTTP server
   * listens, so /healthz answers 200 and /readyz 503 with the reason while the worker
   * waits for its servers. Transient failures (a server unreachable, a Kafka topic not
   * created yet, the slot busy) are retried with capped backoff until SIGTERM; a permanent
   * one (wal_level, authentication, a lost slot) rejects, and the caller exits non-zero.
   */
  async start(): Promise<void> {
    if (this.leadership) {
      this.status.role = 'standby';
      const fatal = new Promise<never>((_, reject) => (this.reportFatal = reject));
      await Promise.race([
        fatal,
        this.leadership.start(
          () => this.serialize(() => this.startStreaming(true)),
          (reason) => this.serialize(() => this.stopStreaming(`demoted: ${reason}`)),
        ),
      ]);
      // A permanent failure after an election (e.g. the slot was lost) ends the process too.
      void fatal.catch((err: unknown) => this.onFatal?.(err));
    } else {
      await this.serialize(() => this.startStreaming(false));
    }
  }

  /** Where a permanent failure found after start() resolved goes (the run command exits). */
  onFatal?: (err: unknown) => void;
  private reportFatal?: (err: unknown) => void;

  /** Elections and shutdown never overlap a start or a stop. */
  private serialize(step: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(step, step);
    return this.transition;
  }

  private async startStreaming(elected: boolean): Promise<void> {
    const ctx = this.ctx!;
    const { worker, source } = this.settings;
    this.status.role = 'starting';
    this.status.waiting = 'connecting';
    try {
      await withRetry(
        async () => {
          const runtime = await source.plugin.create(source.config, ctx);
          const pipeline = new InvalidationPipeline(runtime.source, this.rules, this.sinkList, runtime.deadLetters, {
            maxBatchEvents: worker.BATCH_MAX_EVENTS,
            lingerMs: worker.BATCH_LINGER_MS,
            sourceName: ctx.sourceName,
          });
          try {
            await pipeline.start();
          } catch (err) {
            await pipeline.stop(1000).catch(() => undefined);
            if (elected) await this.leadership?.recoverStartFailure?.(err);
            throw err;
          }
          if (this.stopSignal.signal.aborted) {
            await pipeline.stop(1000); // SIGTERM arrived while this attempt connected
            return;
          }
          this.pipeline = pipeline;
          this.status.attach(pipeline, runtime.source);
          if (runtime.background) this.streamStoppers.push(runtime.background());
          // A pipeline that dies (e.g. the slot was invalidated) makes /healthz fail so Kubernetes restarts the pod.
          void pipeline.done().then(() => {
            if (pipeline.state === 'failed') this.status.fail(pipeline.error ?? 'pipeline failed');
          });
        },
        {
          // Standalone: until it works or SIGTERM. Elected: give the lock back after a while so another replica can try.
          maxAttempts: elected ? 20 : Infinity,
          initialDelayMs: 200,
          maxDelayMs: STARTUP_RETRY_MAX_DELAY_MS,
          retryIf: isTransientStartFailure,
          signal: this.stopSignal.signal,
          onRetry: (err, attempt) => {
            this.status.waiting = errorMessage(err);
            this.log.warn({ attempt, err: errorMessage(err) }, 'starting the stream failed; retrying');
          },
        },
      );
    } catch (err) {
      if (this.stopSignal.signal.aborted) return; // SIGTERM while waiting: not a failure
      if (!isTransientStartFailure(err)) this.reportFatal?.(err);
      if (elected) this.status.role = 'standby'; // the elector gives the lock back and tries again later
      throw err;
    } finally {
      this.status.waiting = undefined;
    }
    if (!this.pipeline) return; // stopped while starting
    this.status.role = 'active';
    this.log.info({ source: ctx.sourceName, elected }, 'streaming');
  }

  private async stopStreaming(reason: string): Promise<void> {
    if (!this.pipeline) return;
    this.log.info({ reason }, 'stopping the stream');
    this.status.role = 'stopping';
    await this.pipeline.stop(this.settings.worker.SHUTDOWN_TIMEOUT_MS);
    for (const stop of this.streamStoppers) await Promise.resolve(stop()).catch((err) => this.log.warn({ err: errorMessage(err) }, 'stream task stop failed'));
    this.streamStoppers = [];
    this.pipeline = undefined;
    if (this.leadership) this.status.role = 'standby';
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const started = Date.now();
    this.stopSignal.abort(); // a start still retrying gives up now
    const position = () => this.pipeline?.lastAppliedPosition;
    const last = position();
    if (this.leadership) {
      await this.leadership.stop(); // demotes (stops streaming) before giving leadership up
    } else {
      // A start still waiting between attempts must not hold up the stop: it sees the abort
      // and gives up on its own; whatever it opens meanwhile is closed by process exit.
      await Promise.race([this.transition.catch(() => undefined), sleep(500)]);
      await this.stopStreaming(`signal ${signal ?? 'shutdown'}`);
    }
    this.status.role = 'stopping';
    // After the pipeline: the last batch may still have queued purges for these.
    for (const stop of this.processStoppers) await Promise.resolve(stop()).catch((err) => this.log.warn({ err: errorMessage(err) }, 'background stop failed'));
    this.redis?.disconnect();
    this.log.info({ signal, ms: Date.now() - started, position: last }, 'pipeline stopped');
  }

  /** Whether this replica takes part in a leader election (known from bootstrap on). */
  get leaderElection(): boolean {
    return this.leadership !== undefined;
  }

  get current(): InvalidationPipeline | undefined {
    return this.pipeline;
  }

  /** The Redis client the sinks share (for the admin API's dead letters and pattern previews); set at bootstrap. */
  get redisClient(): RedisClient | undefined {
    return this.redis;
  }

  /** The sinks in the order the pipeline applies them (Redis L2, L1 pub/sub, CDN outbox), for manual invalidations. */
  get sinks(): readonly InvalidationSink[] {
    return this.sinkList;
  }
}
