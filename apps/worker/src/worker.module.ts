import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { rootLogger } from '@cdc/core';
import { WORKER_SETTINGS, WorkerSettings } from './config/worker-settings';
import { AdminController } from './http/admin/admin.controller';
import { HealthController } from './http/health.controller';
import { MetricsController } from './http/metrics.controller';
import { PipelineService } from './pipeline/pipeline.service';
import { WorkerStatusService } from './pipeline/worker-status.service';
import { RulesService } from './rules/rules.service';

/** The `run` application: HTTP endpoints plus the pipeline, composed from the libraries. */
@Module({})
export class WorkerModule {
  static forRoot(settings: WorkerSettings): DynamicModule {
    return {
      module: WorkerModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: rootLogger(), autoLogging: false, quietReqLogger: true } })],
      controllers: [HealthController, MetricsController, AdminController],
      providers: [{ provide: WORKER_SETTINGS, useValue: settings }, RulesService, WorkerStatusService, PipelineService],
      exports: [RulesService, WorkerStatusService, PipelineService],
    };
  }
}
