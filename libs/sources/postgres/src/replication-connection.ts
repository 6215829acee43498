import { CdcError, errorMessage } from '@cdc/core';
import { Client } from 'pg';
import { LogicalReplicationService, Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { Duplex } from 'node:stream';
import { Lsn, parseLsn } from './lsn';
import { standbyStatusFrame } from './standby-status';

/**
 * One replication connection (START_REPLICATION ... from the slot's confirmed position)
 * on pg-logical-replication, with the library's pitfalls designed out:
 *
 * - Auto-ack and its 10 s timer are off: both report the last *received* LSN (plus one).
 *   We send our own status updates carrying only what the source confirmed.
 * - A fresh service per connection, always started at '0/0': subscribe() without an LSN
 *   would resume from the last position the previous connection *received*, which is
 *   held only in memory. With 0/0 the server starts at the slot's confirmed_flush_lsn.
 * - No flowControl: in that mode an error thrown by a handler is reported and the next
 *   message is processed, i.e. the change is skipped. Instead 'data' is handled
 *   synchronously and backpressure pauses the socket (`pause()`), which the pg Client
 *   exposes as `connection.stream`.
 * - A message the library cannot parse would throw inside the socket's 'data' callback
 *   (an uncaught exception); the guarded plugin turns it into a fatal, reported error.
 * - Values are parsed with node-postgres's global parsers unless replaced (the decoder
 *   replaces them per relation); the GUCs below pin the text forms those parsers expect.
 */

/** Session settings for the walsender: pgoutput prints values with these. */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex';

export interface ReplicationTarget {
  readonly connectionString: string;
  readonly slotName: string;
  readonly publicationName: string;
  /** Every publication to stream (the main one plus the insert-only one); default [publicationName]. */
  readonly publicationNames?: readonly string[];
}

export interface ReplicationHandlers {
  /** A decoded pgoutput message and the size of its payload. Runs synchronously, in stream order. */
  onMessage(message: Pgoutput.Message, bytes: number): void;
  /** A primary keepalive: the server's WAL end, and whether it wants an answer now. */
  onKeepalive(walEnd: Lsn, replyRequested: boolean): void;
  /** The connection is gone (called at most once, never after close()). */
  onClosed(error: Error): void;
}

interface Undecodable {
  readonly tag: 'undecodable';
  readonly error: unknown;
}

class GuardedPgoutputPlugin extends PgoutputPlugin {
  /** Payload size of the message parsed last (for cdc_source_bytes_total). */
  lastBytes = 0;

  override parse(buffer: Buffer): Pgoutput.Message {
    this.lastBytes = buffer.length;
    try {
      return super.parse(buffer);
    } catch (error) {
      return { tag: 'undecodable', error } as Undecodable as unknown as Pgoutput.Message;
    }
  }
}

export class ReplicationConnection {
  private closing = false;
  private closedReported = false;
  private socket: Duplex | undefined;
  private pid: number | undefined;

  private constructor(
    private readonly service: LogicalReplicationService,
    private readonly handlers: ReplicationHandlers,
  ) {}

  /** Connects and starts streaming; resolves once the server has accepted START_REPLICATION. */
  static open(target: ReplicationTarget, handlers: ReplicationHandlers): Promise<ReplicationConnection> {
    const service = new LogicalReplicationService(
      {
        connectionString: target.connectionString,
        options: SESSION_OPTIONS,
        application_name: 'cdc-invalidator',
        keepAlive: true, // TCP keepalives notice a peer that vanished without closing
        connectionTimeoutMillis: 10_000,
      },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
    );
    const plugin = new GuardedPgoutputPlugin({ protoVersion: 1, publicationNames: [...(target.publicationNames ?? [target.publicationName])], messages: true });
    const conn = new ReplicationConnection(service, handlers);
    return new Promise((resolve, reject) => {
      // The library reports one failure up to twice (an 'error' event and the rejection of
      // subscribe()): settle the open once, and report a loss after it at most once.
      let state: 'opening' | 'open' | 'failed' = 'opening';
      const lost = (err: unknown): void => {
        const error = err instanceof Error ? err : new Error(errorMessage(err));
        if (state === 'opening') {
          state = 'failed';
          void conn.close();
          reject(error);
        } else if (state === 'open') {
          conn.fail(error);
        }
      };
      service.on('start', () => {
        if (state !== 'opening') return;
        try {
          conn.attach();
        } catch (err) {
          lost(err);
          return;
        }
        state = 'open';
        resolve(conn);
      });
      service.on('error', lost);
      service.on('data', (_lsn: string, message: Pgoutput.Message | Undecodable) => conn.dispatch(message, plugin));
      service.on('heartbeat', (walEnd: string, _timestamp: number, shouldRespond: boolean) => {
        if (!conn.closing) conn.handlers.onKeepalive(parseLsn(walEnd), shouldRespond);
      });
      service
        .subscribe(plugin, target.slotName, '0/0')
        .then(
          () => lost(new Error('replication stream ended')),
          (err: unknown) => lost(err),
        );
    });
  }

  /** Backend PID of the walsender serving this connection. */
  get backendPid(): number | undefined {
    return this.pid;
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  /** Sends a standby status update; resolves once the bytes are handed to the kernel (or the socket failed). */
  sendStatus(confirmed: Lsn, nowMs: number, replyRequested = false): Promise<void> {
    const socket = this.socket;
    if (!socket || this.closing || !socket.writable) return Promise.resolve();
    return new Promise((resolve) => socket.write(standbyStatusFrame(confirmed, nowMs, replyRequested), () => resolve()));
  }

  /** Closes the connection; no handler is called afterwards. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // A paused socket never sees the server's FIN: let it flow so the close completes.
    this.socket?.resume();
    const stopped = this.service.stop().catch(() => undefined);
    const timeout = new Promise<void>((r) => setTimeout(r, 2_000).unref());
    await Promise.race([stopped, timeout]);
    this.socket?.destroy();
    this.service.removeAllListeners();
  }

  private attach(): void {
    // The library keeps its pg Client private; the socket is needed for backpressure and
    // for writing status updates ourselves (see the file header).
    const client = (this.service as unknown as { _client: Client | null })._client;
    this.socket = client?.connection.stream;
    this.pid = (client as unknown as { processID?: number } | null)?.processID ?? undefined;
    if (!this.socket) throw new Error('pg-logical-replication internals changed: no client socket after start');
  }

  private dispatch(message: Pgoutput.Message | Undecodable, plugin: GuardedPgoutputPlugin): void {
    if (this.closing) return;
    try {
      if (message.tag === 'undecodable') {
        throw new CdcError(`cannot decode a pgoutput message: ${errorMessage(message.error)}`, { code: 'UNDECODABLE', retriable: false, cause: message.error });
      }
      this.handlers.onMessage(message, plugin.lastBytes);
    } catch (err) {
      // Never skip a change: a message we cannot handle stops the stream, loudly. It is not
      // retriable: the same message would come back after a reconnect.
      const fatal =
        err instanceof CdcError && !err.retriable
          ? err
          : new CdcError(`cannot handle a pgoutput message: ${errorMessage(err)}`, { code: 'UNHANDLED_MESSAGE', retriable: false, cause: err });
      this.fail(fatal);
    }
  }

  /** Reports the loss once and releases the connection. */
  private fail(error: Error): void {
    if (this.closing || this.closedReported) return;
    this.closedReported = true;
    this.handlers.onClosed(error);
    void this.close();
  }
}
