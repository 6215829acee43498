import { Controller, Get, HttpCode, HttpException, HttpStatus } from '@nestjs/common';
import { WorkerStatusService } from '../pipeline/worker-status.service';

/**
 * Liveness: the process and its pipeline are not wedged (a failed pipeline restarts the pod).
 * Readiness: this replica is streaming. A standby replica (HA, waiting for the leader lock)
 * answers 503 with role "standby" so dashboards and `kubectl get pods` tell the truth.
 */
@Controller()
export class HealthController {
  constructor(private readonly status: WorkerStatusService) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): Record<string, unknown> {
    const s = this.status.snapshot();
    if (s.pipeline === 'failed') throw new HttpException({ status: 'failed', error: s.error }, HttpStatus.SERVICE_UNAVAILABLE);
    return { status: 'ok' };
  }

  @Get('readyz')
  readyz(): Record<string, unknown> {
    const s = this.status.snapshot();
    const ready = s.role === 'active' && s.pipeline === 'running' && s.source === 'streaming';
    if (!ready) throw new HttpException({ ready: false, ...s }, HttpStatus.SERVICE_UNAVAILABLE);
    return { ready: true, ...s };
  }
}
