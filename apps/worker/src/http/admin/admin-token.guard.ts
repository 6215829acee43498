import { createHash, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { WORKER_SETTINGS, WorkerSettings } from '../../config/worker-settings';

/** The parts of the (Express) request and response the guard reads. */
interface HttpRequest {
  readonly method: string;
  readonly originalUrl?: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}
interface HttpResponse {
  setHeader(name: string, value: string): void;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` for every /admin route. Without ADMIN_TOKEN the
 * admin API does not exist (404, the same answer as any unknown route). The comparison is
 * over sha256 digests with timingSafeEqual: constant time, and no length leak. The token
 * is never logged (the request logger is off and pino redacts `authorization`).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(WORKER_SETTINGS) settings: WorkerSettings) {
    const token = settings.worker.ADMIN_TOKEN;
    this.expected = token ? digest(token) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<HttpRequest>();
    if (!this.expected) throw new NotFoundException(`Cannot ${req.method} ${(req.originalUrl ?? req.url).split('?')[0]}`);
    const presented = bearerToken(req.headers.authorization);
    if (presented === undefined) {
      http.getResponse<HttpResponse>().setHeader('WWW-Authenticate', 'Bearer realm="cdc-invalidator-admin"');
      throw new UnauthorizedException('missing admin token: send Authorization: Bearer <ADMIN_TOKEN>');
    }
    if (!timingSafeEqual(digest(presented), this.expected)) throw new ForbiddenException('invalid admin token');
    return true;
  }
}

function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value) : null;
  return match ? match[1] : undefined;
}
