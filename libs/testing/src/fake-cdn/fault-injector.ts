import { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * Failure and latency injection shared by the fake CDN servers. Tests switch modes while
 * the worker runs: answer with a server error, drop the connection, never answer (the
 * client's timeout fires), or hold answers until released (the effect of the request is
 * applied first, so a client killed while waiting finds its work done on the server).
 */
export type InjectedFailure =
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'hang' };

export class FaultInjector {
  private latency: [number, number] = [0, 0];
  private failure?: InjectedFailure;
  private failuresLeft = 0;
  private holding = false;
  private readonly held = new Set<() => void>();

  /** Every response waits a uniformly random time in [minMs, maxMs]. */
  setLatency(minMs: number, maxMs = minMs): void {
    this.latency = [minMs, Math.max(minMs, maxMs)];
  }

  /** The next `count` requests (default: all until cleared) fail this way. */
  fail(failure: InjectedFailure, count = Number.POSITIVE_INFINITY): void {
    this.failure = failure;
    this.failuresLeft = count;
  }

  clearFailures(): void {
    this.failure = undefined;
    this.failuresLeft = 0;
  }

  /** Applies requests but withholds every response until `release()`. */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const resume of [...this.held]) resume();
    this.held.clear();
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** The failure to inject for this request, if any (consumes one from the budget). */
  takeFailure(): InjectedFailure | undefined {
    if (!this.failure || this.failuresLeft <= 0) return undefined;
    this.failuresLeft--;
    const f = this.failure;
    if (this.failuresLeft <= 0) this.failure = undefined;
    return f;
  }

  /**
   * Takes this request's failure, if any. Connection-level ones (drop, hang) are carried out
   * here and recorded as status -1 / -2; the result says whether the request is finished, and
   * otherwise which status failure (if any) the server should answer with.
   */
  takeRequestFailure(req: IncomingMessage, record: { status: number }): { finished: boolean; failure?: InjectedFailure } {
    const failure = this.takeFailure();
    if (failure?.kind === 'drop') {
      record.status = -1;
      req.socket.destroy();
      return { finished: true };
    }
    if (failure?.kind === 'hang') {
      record.status = -2; // never answered; the client's timeout fires
      return { finished: true };
    }
    return { finished: false, failure };
  }

  /** Waits for the configured latency and, in hold mode, for release. */
  async beforeResponse(res: ServerResponse): Promise<void> {
    const [min, max] = this.latency;
    if (max > 0) await new Promise((r) => setTimeout(r, min + Math.random() * (max - min)));
    if (this.holding) {
      await new Promise<void>((resolve) => {
        const resume = (): void => {
          this.held.delete(resume);
          resolve();
        };
        this.held.add(resume);
        res.once('close', resume);
      });
    }
  }
}

/** Tracks sockets so `stop()` can end hung and keep-alive connections at once. */
export class SocketTracker {
  private readonly sockets = new Set<Socket>();

  attach(server: Server): void {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Per-key token bucket used by the fakes to answer 429 / Throttling like the real APIs. */
export class FakeRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {}

  /** 0 when the request may pass (a token is consumed), else ms until a token is available. */
  take(key: string, now = Date.now()): number {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.ratePerSec) * 1000);
  }
}
