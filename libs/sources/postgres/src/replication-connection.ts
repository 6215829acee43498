import { CdcError, errorMessage } from '@cdc/core';
import { Client } from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { Lsn } from './lsn';
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
 * - The library's parser builds objects for every column of every row; we decode the raw
 *   pgoutput bytes ourselves (pgoutput-decoder.ts). Once streaming starts, the CopyData
 *   frames (XLogData 'w', primary keepalive 'k') are taken from the pg connection directly,
 *   in place of the library's listener, which would format an LSN string and emit an event
 *   per message. The library still sets up the connection and sends START_REPLICATION.
 * - A handler that throws (a message we cannot decode, or cannot handle) would throw inside
 *   the socket's 'data' callback (an uncaught exception); dispatch turns it into a fatal,
 *   reported error.
 * - The GUCs below pin the text forms our value parsers expect (value-parsers.ts).
 */

/** Session settings for the walsender: pgoutput prints values with these. */
export const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex';

export interface ReplicationTarget {
  readonly connectionString: string;
  readonly slotName: string;
  readonly publicationName: string;
  /** Every publication to stream (the main one plus the insert-only one); default [publicationName]. */
  readonly publicationNames?: readonly string[];
}

export interface ReplicationHandlers {
  /**
   * One pgoutput message: `frame` from byte `start` on (the XLogData payload). The bytes are
   * only valid during the call. Runs synchronously, in stream order.
   */
  onMessage(frame: Buffer, start: number): void;
  /** A primary keepalive: the server's WAL end, and whether it wants an answer now. */
  onKeepalive(walEnd: Lsn, replyRequested: boolean): void;
  /** The connection is gone (called at most once, never after close()). */
  onClosed(error: Error): void;
}

/** XLogData: 'w', WAL start, WAL end, send time (Int64 each), then the pgoutput message. */
const XLOG_DATA = 0x77;
const XLOG_HEADER = 25;
/** Primary keepalive: 'k', WAL end, send time (Int64 each), reply requested (Byte). */
const KEEPALIVE = 0x6b;
const KEEPALIVE_LENGTH = 18;

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
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [...(target.publicationNames ?? [target.publicationName])], messages: true });
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
    // for writing status updates ourselves, the connection for reading frames (see the file header).
    const client = (this.service as unknown as { _client: Client | null })._client;
    const connection = (client as unknown as { connection?: EventEmitter & { stream?: Duplex } } | null)?.connection;
    this.socket = connection?.stream;
    this.pid = (client as unknown as { processID?: number } | null)?.processID ?? undefined;
    if (!connection || !this.socket) throw new Error('pg-logical-replication internals changed: no client socket after start');
    // 'start' is emitted while the CopyBothResponse is handled, before any CopyData of the
    // stream is parsed: no frame reaches the library's listener.
    connection.removeAllListeners('copyData');
    connection.on('copyData', (msg: { chunk: Buffer }) => this.onFrame(msg.chunk));
  }

  private onFrame(frame: Buffer): void {
    if (this.closing) return;
    try {
      const type = frame[0];
      if (type === XLOG_DATA) {
        if (frame.length <= XLOG_HEADER) throw new CdcError('cannot decode a pgoutput message: XLogData frame too short', { code: 'UNDECODABLE', retriable: false });
        this.handlers.onMessage(frame, XLOG_HEADER);
      } else if (type === KEEPALIVE && frame.length >= KEEPALIVE_LENGTH) {
        const walEnd = (BigInt(frame.readUInt32BE(1)) << 32n) | BigInt(frame.readUInt32BE(5));
        this.handlers.onKeepalive(walEnd, frame[17] !== 0);
      }
      // Other CopyData frames are not part of the replication protocol's server side: ignored, as the library does.
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
