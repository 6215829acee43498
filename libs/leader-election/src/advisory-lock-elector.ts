import { ConfigError, Logger, childLogger, errorMessage, sleep } from '@cdc/core';
import { AdvisoryLockKey, advisoryLockKey, defaultLockName } from './lock-key';
import { leaderGauge, leaderTransitions } from './leader-metrics';
import { LockSession } from './lock-session';

export type ElectorRole = 'standby' | 'leader';

/**
 * Why a leader stopped being one.
 * - `connection-lost`: the lock connection failed or stopped answering; the server drops
 *   (or will drop) the lock with the session, so another replica may already lead.
 * - `lock-lost`: the connection answers but the lock is no longer held by it.
 * - `start-failed`: onElected threw; the lock was released so another replica can try.
 * - `stopped`: stop() was called; the lock is released after onDemoted resolves.
 */
export type DemotionReason = 'connection-lost' | 'lock-lost' | 'start-failed' | 'stopped';

export interface AdvisoryLockElectorOptions {
  /** Postgres to hold the lock on: the database whose slot is being guarded. */
  readonly connectionString: string;
  /** The replication slot; names the default lock `cdc-invalidator:<slot>`. */
  readonly slotName?: string;
  /** Lock name, hashed to an int8 (see lock-key.ts). Default `cdc-invalidator:<slotName>`. */
  readonly lockKey?: string;
  /** Standby poll period and leader health-check period, ms. Default 1000. */
  readonly retryIntervalMs?: number;
  /** Deadline for connecting and for each lock statement, ms; past it the connection is presumed dead. Default 5000. */
  readonly checkTimeoutMs?: number;
  /** TCP keepalive idle time for the lock connection (client and server side), ms. Default 10000. */
  readonly keepAliveIdleMs?: number;
  readonly logger?: Logger;
}

export type OnElected = () => Promise<void>;
export type OnDemoted = (reason: DemotionReason) => Promise<void>;

/** SQLSTATEs that no amount of retrying fixes: bad credentials, missing database. */
function isFatalConnectError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('28') || code === '3D000');
}

/**
 * One active replica per replication slot, by a Postgres session-level advisory lock held
 * on a dedicated connection (see docs/ha.md for why not a Kubernetes Lease).
 *
 * Standbys poll `pg_try_advisory_lock` every `retryIntervalMs`. The leader checks on the
 * same period that its connection answers and still holds the lock; a failed check, or
 * an error event on the connection (which wakes the loop at once), demotes it: onDemoted
 * runs and the app must stop streaming and acking, because another replica may take
 * over as soon as the server lets go of the session. Transitions happen in one loop,
 * one at a time, so onElected and onDemoted never overlap.
 */
export class AdvisoryLockElector {
  private readonly log: Logger;
  private readonly key: AdvisoryLockKey;
  private readonly retryIntervalMs: number;
  private readonly checkTimeoutMs: number;
  private readonly keepAliveIdleMs: number;
  private currentRole: ElectorRole = 'standby';
  private session?: LockSession;
  private sessionLost?: Error;
  private onElected?: OnElected;
  private onDemoted?: OnDemoted;
  private startup?: Promise<void>;
  private loop?: Promise<void>;
  private stopped?: Promise<void>;
  private wake?: AbortController;
  private stopping = false;
  private connectFailing = false;

  constructor(private readonly options: AdvisoryLockElectorOptions) {
    const name = options.lockKey ?? (options.slotName ? defaultLockName(options.slotName) : undefined);
    if (!name) throw new ConfigError('AdvisoryLockElector needs a lockKey or a slotName to name its lock', 'LEADER_LOCK_KEY');
    if (!options.connectionString) throw new ConfigError('AdvisoryLockElector needs a connectionString', 'LEADER_CONNECTION');
    this.key = advisoryLockKey(name);
    this.retryIntervalMs = options.retryIntervalMs ?? 1000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 5000;
    this.keepAliveIdleMs = options.keepAliveIdleMs ?? 10_000;
    this.log = (options.logger ?? childLogger('leader-election')).child({ lock: name, lockKey: this.key.key });
  }

  get role(): ElectorRole {
    return this.currentRole;
  }

  /** The lock as Postgres sees it (pg_locks classid/objid), for operators and tests. */
  get lock(): AdvisoryLockKey {
    return this.key;
  }

  /**
   * Makes a first attempt (so `role` is meaningful when this resolves), then keeps
   * electing in the background. Rejects only for errors retrying cannot fix (bad
   * credentials, missing database); an unreachable server is retried.
   */
  async start(onElected: OnElected, onDemoted: OnDemoted): Promise<void> {
    if (this.startup || this.stopping) throw new Error('AdvisoryLockElector.start() called twice');
    this.onElected = onElected;
    this.onDemoted = onDemoted;
    leaderGauge.set(0);
    this.log.info({ classid: this.key.classid, objid: this.key.objid }, 'leader election starting');
    this.startup = this.tick(true);
    await this.startup;
    this.loop = this.run();
  }

  /**
   * Stops electing. A leader gets onDemoted('stopped') first (so it stops streaming
   * while it still holds the lock), then the lock is released and the connection closed.
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.wake?.abort();
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    // Let a first attempt or a transition in progress finish, so nothing opens behind us.
    await this.startup?.catch(() => undefined);
    await this.loop;
    if (this.currentRole === 'leader') await this.demote('stopped');
    const session = this.session;
    this.session = undefined;
    if (session) {
      await session.unlock().catch(() => undefined);
      await session.close();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.wake = new AbortController();
      await sleep(this.retryIntervalMs, this.wake.signal);
      if (this.stopping) break;
      await this.tick(false);
    }
  }

  private async tick(first: boolean): Promise<void> {
    if (this.currentRole === 'leader') await this.checkLeadership();
    else await this.tryAcquire(first);
  }

  private async checkLeadership(): Promise<void> {
    const session = this.session;
    if (!session || this.sessionLost) {
      this.log.warn({ err: this.sessionLost?.message }, 'lock connection lost');
      if (session) this.dropSession(session);
      return this.demote('connection-lost');
    }
    try {
      if (await session.holdsLock(this.key)) return;
      this.log.error('lock connection answers but no longer holds the leader lock');
      await this.demote('lock-lost');
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'lock connection check failed');
      this.dropSession(session);
      await this.demote('connection-lost');
    }
  }

  private async tryAcquire(first: boolean): Promise<void> {
    if (this.session && this.sessionLost) this.dropSession(this.session);
    let session: LockSession;
    try {
      session = this.session ?? (await this.openSession());
    } catch (err) {
      if (first && isFatalConnectError(err)) {
        throw new ConfigError(`leader election cannot connect to Postgres: ${errorMessage(err)}`, 'LEADER_CONNECTION');
      }
      // One line per outage, not one per poll.
      if (!this.connectFailing) this.log.warn({ err: errorMessage(err) }, 'leader election cannot connect; retrying');
      this.connectFailing = true;
      return;
    }
    if (this.connectFailing) this.log.info('leader election connected');
    this.connectFailing = false;
    let locked: boolean;
    try {
      locked = await session.tryLock(this.key);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'lock attempt failed; retrying');
      this.dropSession(session);
      return;
    }
    if (locked) await this.promote(session);
  }

  private async promote(session: LockSession): Promise<void> {
    this.setRole('leader');
    this.log.info({ pid: session.pid }, 'elected leader');
    try {
      await this.onElected?.();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'onElected failed; releasing the lock');
      await this.demote('start-failed');
      await session.unlock().catch(() => this.dropSession(session));
    }
  }

  private async demote(reason: DemotionReason): Promise<void> {
    this.setRole('standby');
    const level = reason === 'stopped' ? 'info' : 'warn';
    this.log[level]({ reason }, 'no longer leader');
    try {
      await this.onDemoted?.(reason);
    } catch (err) {
      this.log.error({ err: errorMessage(err), reason }, 'onDemoted failed');
    }
  }

  private setRole(role: ElectorRole): void {
    this.currentRole = role;
    leaderGauge.set(role === 'leader' ? 1 : 0);
    leaderTransitions.inc({ to: role });
  }

  private async openSession(): Promise<LockSession> {
    let session: LockSession | undefined;
    session = await LockSession.open(
      {
        connectionString: this.options.connectionString,
        applicationName: 'cdc-invalidator-leader-election',
        timeoutMs: this.checkTimeoutMs,
        keepAliveIdleMs: this.keepAliveIdleMs,
      },
      (error) => this.onSessionLost(session, error),
    );
    this.session = session;
    this.sessionLost = undefined;
    return session;
  }

  /** Connection error or end: a leader must not wait for its next check to step down. */
  private onSessionLost(session: LockSession | undefined, error: Error): void {
    if (!session || session !== this.session) return;
    this.sessionLost = error;
    if (this.currentRole === 'leader') this.wake?.abort();
  }

  private dropSession(session: LockSession): void {
    session.destroy();
    if (this.session === session) {
      this.session = undefined;
      this.sessionLost = undefined;
    }
  }
}
