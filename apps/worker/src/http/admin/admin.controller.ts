import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  Post,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { CdcError, ChangeEvent, ConfigError } from '@cdc/core';
import { ExplainResult, explain } from '@cdc/rules';
import { RedisClient, RedisDeadLetterSink, connectRedis } from '@cdc/sink-redis';
import { WORKER_SETTINGS, WorkerSettings } from '../../config/worker-settings';
import { PipelineService } from '../../pipeline/pipeline.service';
import { WorkerStatusService } from '../../pipeline/worker-status.service';
import { RulesService } from '../../rules/rules.service';
import { EventBodyPipe, InvalidateBody, ZodBodyPipe, invalidateBodySchema } from './admin-bodies';
import { AdminTokenGuard } from './admin-token.guard';
import { rulesView, statusView } from './admin-views';
import { ManualApplyError, ManualApplyResult, applyManualBatch, buildManualBatch } from './manual-invalidation';
import { ManualPreview, PatternReport, patternReport, previewManual } from './manual-preview';
import { PatternMatches, scanPattern } from './pattern-scan';

/** POST /admin/invalidate's answer: what was applied, and per pattern how many keys it deleted and whether it stopped at the cap. */
export type ManualInvalidationAnswer = ManualApplyResult & {
  readonly patternDeletes: readonly PatternReport[];
  readonly capped: boolean;
  readonly maxPatternKeys: number;
};

const CDN_OUTBOX_SINK = 'cdn-outbox';

/** The admin API (docs/admin-api.md): read the rules and status, explain an event, invalidate by hand. */
@Controller('admin')
@UseGuards(AdminTokenGuard)
export class AdminController {
  private deadLetterSink?: RedisDeadLetterSink;

  constructor(
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
    private readonly rules: RulesService,
    private readonly pipeline: PipelineService,
    private readonly status: WorkerStatusService,
  ) {}

  @Get('rules')
  getRules(): Record<string, unknown> {
    return rulesView(this.rules.state());
  }

  @Get('status')
  async getStatus(): Promise<Record<string, unknown>> {
    return statusView(this.status.snapshot(), {
      rulesHash: this.rules.current().hash,
      cdnOutbox: this.pipeline.sinks.some((s) => s.name === CDN_OUTBOX_SINK),
      leaderElection: this.pipeline.leaderElection,
    });
  }

  /** What the rules in effect would do with an event; touches nothing. */
  @Post('explain')
  @HttpCode(HttpStatus.OK)
  postExplain(@Body(EventBodyPipe) event: ChangeEvent): ExplainResult & { rulesHash: string } {
    const rules = this.rules.current();
    return { rulesHash: rules.hash, ...explain(rules, event) };
  }

  /**
   * Applies keys, tags, patterns and CDN purges through the pipeline's own sinks, in its order.
   * Each pattern is first resolved with a SCAN capped at ADMIN_MAX_PATTERN_KEYS (the worker's
   * own `cdc:` state is never matched) and only those keys are deleted; the answer says which
   * patterns stopped at the cap. `dryRun` (body or `?dryRun=true`) answers what would be
   * deleted, with counts and samples, and touches nothing.
   */
  @Post('invalidate')
  @HttpCode(HttpStatus.OK)
  async postInvalidate(
    @Body(new ZodBodyPipe(invalidateBodySchema)) body: InvalidateBody,
    @Query('dryRun') dryRunQuery?: string,
  ): Promise<ManualInvalidationAnswer | ManualPreview> {
    const dryRun = body.dryRun === true || dryRunQuery === 'true' || dryRunQuery === '1';
    const sinks = this.pipeline.sinks;
    const redis = this.pipeline.redisClient;
    if (sinks.length === 0 || !redis) throw new ServiceUnavailableException('the sinks are not set up yet; retry once /healthz answers');
    this.checkCdnTargets(body, sinks.some((s) => s.name === CDN_OUTBOX_SINK));
    const cap = this.settings.worker.ADMIN_MAX_PATTERN_KEYS;
    const channels = this.rules.current().defaultChannels;
    try {
      const patterns: PatternMatches[] = [];
      if (dryRun || body.patterns?.length) {
        await connectRedis(redis);
        for (const pattern of new Set(body.patterns ?? [])) patterns.push(await scanPattern(redis, pattern, cap));
      }
      if (dryRun) {
        const preview = buildManualBatch(body, channels);
        return await previewManual(redis, body, patterns, { maxPatternKeys: cap, cdn: preview.cdnCount, channels: [...preview.channels.keys()] });
      }
      const batch = buildManualBatch(body, channels, undefined, body.patterns?.length ? patterns.flatMap((p) => p.keys) : undefined);
      // A standby replica has not started its sinks (the pipeline does that); starting them is idempotent.
      const result = await applyManualBatch(batch, sinks, { startSinks: this.pipeline.current?.state !== 'running', deadLetters: this.deadLetters(redis) });
      const reports = patterns.map(patternReport);
      // The patterns went out as the keys they matched: count them as asked for.
      return { ...result, patterns: patterns.length, patternDeletes: reports, capped: reports.some((p) => p.capped), maxPatternKeys: cap };
    } catch (err) {
      if (err instanceof ManualApplyError) {
        const status = err.retriable ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.BAD_GATEWAY;
        throw new HttpException({ statusCode: status, message: err.message, sink: err.sink, applied: err.applied }, status);
      }
      if (err instanceof CdcError) {
        // Scanning or previewing failed (Redis down, a wrong-type tag key): nothing was deleted.
        const status = err.retriable ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.BAD_GATEWAY;
        throw new HttpException({ statusCode: status, message: err.message, applied: [] }, status);
      }
      throw err;
    }
  }

  private deadLetters(redis: RedisClient): RedisDeadLetterSink {
    this.deadLetterSink ??= new RedisDeadLetterSink({ client: redis });
    return this.deadLetterSink;
  }

  /** CDN aliases are fixed at boot: a purge for an unknown one would only end up in the dead letters. */
  private checkCdnTargets(body: InvalidateBody, outboxRunning: boolean): void {
    const wanted = [
      ...(body.urls?.cloudflare ? [{ provider: 'cloudflare' as const, alias: body.urls.cloudflare.zone, variable: 'CLOUDFLARE_ZONES' }] : []),
      ...(body.urls?.cloudfront ? [{ provider: 'cloudfront' as const, alias: body.urls.cloudfront.distribution, variable: 'CLOUDFRONT_DISTRIBUTIONS' }] : []),
    ];
    if (wanted.length === 0) return;
    if (!outboxRunning) throw new BadRequestException('CDN purges are not enabled in this worker: the rules named no CDN target at boot');
    const aliases = this.configuredCdnAliases();
    for (const w of wanted) {
      if (!aliases[w.provider].has(w.alias)) {
        throw new BadRequestException(`body.urls.${w.provider}: "${w.alias}" is not configured in ${w.variable} (configured: ${[...aliases[w.provider]].join(', ') || 'none'})`);
      }
    }
  }

  /** The aliases the CDN outbox was configured with at boot; none when it did not start. */
  private configuredCdnAliases(): { cloudflare: ReadonlySet<string>; cloudfront: ReadonlySet<string> } {
    return this.settings.bootFacts.cdnAliases ?? { cloudflare: new Set(), cloudfront: new Set() };
  }

}
