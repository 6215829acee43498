import { Client } from 'pg';
import { TransientError, errorMessage } from '@cdc/core';
import { AdvisoryLockKey } from './lock-key';

export interface LockSessionOptions {
  readonly connectionString: string;
  /** Shows in pg_stat_activity, so an operator can find the lock holder. */
  readonly applicationName: string;
  /** Connect and per-statement deadline; past it the connection is presumed dead and destroyed. */
  readonly timeoutMs: number;
  /** Idle time before TCP keepalive probes start, both directions. */
  readonly keepAliveIdleMs: number;
}

/**
 * The dedicated connection that holds the leader's session-level advisory lock.
 *
 * The lock lives exactly as long as this backend session, so everything here is about
 * noticing a dead connection quickly on both ends:
 * - server side, `tcp_keepalives_*` make the backend notice a vanished client (host
 *   gone, network partition) and exit, which releases the lock for a standby;
 * - client side, TCP keepalive plus a deadline on every statement: a half-open socket
 *   never errors by itself, it just stops answering. Past the deadline the socket is
 *   destroyed and the session reported lost.
 * The client-side deadline is much shorter than the server-side keepalive window, so
 * a partitioned leader demotes itself before the server frees the lock for someone else.
 */
export class LockSession {
  private closing = false;
  private lostReported = false;

  private constructor(
    private readonly client: Client,
    readonly pid: number,
    private readonly timeoutMs: number,
  ) {}

  /** Opens the session. `onLost` is called at most once, when the connection dies (never after close()). */
  static async open(options: LockSessionOptions, onLost: (error: Error) => void): Promise<LockSession> {
    const idleSeconds = Math.max(1, Math.round(options.keepAliveIdleMs / 1000));
    const client = new Client({
      connectionString: options.connectionString,
      application_name: options.applicationName,
      connectionTimeoutMillis: options.timeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: options.keepAliveIdleMs,
      // Server-side keepalives: probe after idle, then every interval, give up after count
      // unanswered probes (idle + interval*count ≈ 4x idle); statement_timeout bounds our own queries.
      options: [
        `-c tcp_keepalives_idle=${idleSeconds}`,
        `-c tcp_keepalives_interval=${Math.max(1, Math.round(idleSeconds / 2))}`,
        `-c tcp_keepalives_count=6`,
        `-c statement_timeout=${options.timeoutMs}`,
      ].join(' '),
    });
    let session: LockSession | undefined;
    const lost = (error: Error): void => {
      if (!session || session.closing || session.lostReported) return;
      session.lostReported = true;
      onLost(error);
    };
    // Registered before connect so an early error is never an unhandled 'error' event.
    client.on('error', (err) => lost(err));
    client.on('end', () => lost(new Error('lock connection ended')));
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      session = new LockSession(client, rows[0].pid, options.timeoutMs);
      return session;
    } catch (err) {
      client.connection.stream?.destroy();
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  /** Non-blocking attempt; true if this session now holds the lock (or already did). */
  async tryLock(key: AdvisoryLockKey): Promise<boolean> {
    const { rows } = await this.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::int8) AS locked', [key.key]);
    return rows[0].locked;
  }

  /**
   * Whether this session still holds the lock, read from pg_locks rather than assumed:
   * a successful round trip proves the connection is alive, the row proves the lock is.
   */
  async holdsLock(key: AdvisoryLockKey): Promise<boolean> {
    const { rows } = await this.query<{ held: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_locks
          WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
            AND classid = $1::int8::oid AND objid = $2::int8::oid AND objsubid = 1
       ) AS held`,
      [key.classid, key.objid],
    );
    return rows[0].held;
  }

  /** Releases the lock now (the session is dedicated to it, so every advisory hold it has goes). */
  async unlock(): Promise<void> {
    await this.query('SELECT pg_advisory_unlock_all()');
  }

  /** Ends the session politely (the server releases its locks); destroys it if that stalls. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const ended = this.client.end().catch(() => undefined);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.timeoutMs).unref());
    if ((await Promise.race([ended, timer])) === 'timeout') this.client.connection.stream?.destroy();
  }

  /** Drops the socket without a goodbye (the connection is already presumed dead). */
  destroy(): void {
    this.closing = true;
    this.client.connection.stream?.destroy();
    this.client.end().catch(() => undefined);
  }

  private async query<R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<{ rows: R[] }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A half-open socket would hold this query forever: cut it so the session is reported lost.
        this.client.connection.stream?.destroy();
        reject(new TransientError(`lock connection did not answer within ${this.timeoutMs} ms`, undefined, 'LOCK_CONNECTION_TIMEOUT'));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([this.client.query<R>(sql, params), deadline]);
    } catch (err) {
      if (err instanceof TransientError) throw err;
      throw new TransientError(`lock connection query failed: ${errorMessage(err)}`, err, 'LOCK_CONNECTION');
    } finally {
      clearTimeout(timer);
    }
  }
}
