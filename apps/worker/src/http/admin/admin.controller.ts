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
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ChangeEvent, ConfigError } from '@cdc/core';
import { ExplainResult, explain } from '@cdc/rules';
import { cdnConfigFromEnv } from '@cdc/sink-cdn';
import { WORKER_SETTINGS, WorkerSettings } from '../../config/worker-settings';
import { PipelineService } from '../../pipeline/pipeline.service';
import { WorkerStatusService } from '../../pipeline/worker-status.service';
import { RulesService } from '../../rules/rules.service';
import { EventBodyPipe, InvalidateBody, ZodBodyPipe, invalidateBodySchema } from './admin-bodies';
import { AdminTokenGuard } from './admin-token.guard';
import { rulesView, statusView } from './admin-views';
import { ManualApplyError, ManualApplyResult, applyManualBatch, buildManualBatch } from './manual-invalidation';

const CDN_OUTBOX_SINK = 'cdn-outbox';

/** The admin API (docs/admin-api.md): read the rules and status, explain an event, invalidate by hand. */
@Controller('admin')
@UseGuards(AdminTokenGuard)
export class AdminController {
  private cdnAliases?: { cloudflare: ReadonlySet<string>; cloudfront: ReadonlySet<string> };

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
      leaderElection: this.settings.worker.LEADER_ELECTION !== 'none',
    });
  }

  /** What the rules in effect would do with an event; touches nothing. */
  @Post('explain')
  @HttpCode(HttpStatus.OK)
  postExplain(@Body(EventBodyPipe) event: ChangeEvent): ExplainResult & { rulesHash: string } {
    const rules = this.rules.current();
    return { rulesHash: rules.hash, ...explain(rules, event) };
  }

  /** Applies keys, tags, patterns and CDN purges through the pipeline's own sinks, in its order. */
  @Post('invalidate')
  @HttpCode(HttpStatus.OK)
  async postInvalidate(@Body(new ZodBodyPipe(invalidateBodySchema)) body: InvalidateBody): Promise<ManualApplyResult> {
    const sinks = this.pipeline.sinks;
    if (sinks.length === 0) throw new ServiceUnavailableException('the sinks are not set up yet; retry once /healthz answers');
    this.checkCdnTargets(body, sinks.some((s) => s.name === CDN_OUTBOX_SINK));
    const batch = buildManualBatch(body, this.rules.current().defaultChannels);
    try {
      // A standby replica has not started its sinks (the pipeline does that); starting them is idempotent.
      return await applyManualBatch(batch, sinks, { startSinks: this.pipeline.current?.state !== 'running' });
    } catch (err) {
      if (!(err instanceof ManualApplyError)) throw err;
      const status = err.retriable ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.BAD_GATEWAY;
      throw new HttpException({ statusCode: status, message: err.message, sink: err.sink, applied: err.applied }, status);
    }
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

  private configuredCdnAliases(): { cloudflare: ReadonlySet<string>; cloudfront: ReadonlySet<string> } {
    if (!this.cdnAliases) {
      try {
        const cdn = cdnConfigFromEnv(this.settings.env);
        this.cdnAliases = { cloudflare: new Set(cdn.cloudflare?.zones.keys() ?? []), cloudfront: new Set(cdn.cloudfront?.distributions.keys() ?? []) };
      } catch (err) {
        // The outbox runs only with a valid CDN configuration (checked at boot), so this is not expected.
        if (err instanceof ConfigError) throw new ServiceUnavailableException('the CDN configuration is invalid; see `cdc-invalidator validate` and the boot log');
        throw err;
      }
    }
    return this.cdnAliases;
  }
}
