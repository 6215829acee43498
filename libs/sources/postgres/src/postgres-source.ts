import {
  ALL_COLUMNS,
  CdcError,
  ChangeEvent,
  ColumnDemand,
  ConfigError,
  ChangeSource,
  CheckpointTracker,
  DeadLetter,
  SourceBatch,
  SourceStatus,
  CounterBuffer,
  backoffDelay,
  childLogger,
  errorMessage,
  nowMs,
  redactUrl,
  sleep,
  withRetry,
} from '@cdc/core';
import { Client } from 'pg';
import { EventBuffer } from './event-buffer';
import { Lsn, ZERO_LSN, formatLsn } from './lsn';
import { DecodedStream, PgoutputDecoder } from './pgoutput-decoder';
import { EventCount } from './relation-plan';
import { PostgresSourceOptions, ResolvedPostgresSourceOptions, resolvePostgresSourceOptions } from './postgres-source-options';
import { ReplicationConnection, ReplicationHandlers } from './replication-connection';
import { checkWalLevel, ensurePublication, ensureSlot, waitForSlotRelease, walSenderTimeoutMs, withClient } from './replication-setup';
import { SlotStatus, slotStatus } from './slot-status';
import { sourceMetrics as m } from './source-metrics';
import { VisibilityGate } from './visibility-gate';

/** Acks are coalesced into at most one status update per this many ms. */
const FEEDBACK_DELAY_MS = 10;

/** pgoutput's Begin message type. */
const BEGIN = 0x42;

/** The events metric's key and labels for explicit messages (they have no table). */
const MESSAGE_COUNT_LABELS = { source: 'postgres', table: '', op: 'message' };
const MESSAGE_COUNT: EventCount = { key: '\u0000message', labels: () => MESSAGE_COUNT_LABELS };

/**
 * Postgres logical replication (pgoutput) as a ChangeSource.
 *
 * Positions: each event carries its transaction's commit LSN (`X/Y`). What is confirmed
 * to the server (the slot's confirmed_flush_lsn) is a commit's *end* LSN, and only once
 * every batch up to that commit is acked (CheckpointTracker). A transaction larger than a
 * batch is handed out in chunks: chunks are tracked without a position, the chunk that
 * reaches the COMMIT carries the end LSN. A commit (or an idle keepalive's WAL end) that
 * arrives when nothing is queued is tracked as an already-completed unit, so the slot also
 * advances over transactions that produced no event.
 *
 * Backpressure: decoded events wait in a bounded buffer; at `maxBufferedEvents` the socket
 * is paused (the WAL stays in the slot) and resumed below half of it.
 *
 * Visibility: a batch is handed out only once its transactions are visible to new
 * snapshots (VisibilityGate), so an invalidation never lands before a reader could see the
 * commit. It is taken and tracked first (stream order), then held; a held batch that is
 * abandoned (stop, reconnect) is never acked: its events are streamed again.
 *
 * Reconnects: any connection loss starts a new generation: the tracker is reset (acks of
 * older batches become no-ops), unread events are dropped, and streaming resumes from the
 * slot's confirmed_flush_lsn after a capped, jittered backoff. Unconfirmed transactions
 * are delivered again (at-least-once).
 *
 * Columns: rows are decoded with the columns `options.columns()` asks for (the rules'),
 * the others left UNKNOWN. When it changes (a rules reload) to ask for a column that
 * events already decoded (buffered, or held by the visibility gate) lack, those events are
 * dropped and streamed again from the confirmed position, like after a connection loss:
 * no batch is handed out to rules that read a column its events were decoded without. The
 * check runs right before a batch is handed out; the pipeline folds it in the same tick,
 * so a reload cannot slip in between.
 */
export class PostgresSource implements ChangeSource {
  readonly name = 'postgres';
  private readonly o: ResolvedPostgresSourceOptions;
  private readonly log = childLogger('source-postgres');
  private statusValue: SourceStatus = 'idle';
  private readonly buffer = new EventBuffer();
  private readonly tracker = new CheckpointTracker<Lsn>();
  private readonly decoder: PgoutputDecoder;
  private readonly lowWater: number;
  private connection: ReplicationConnection | undefined;
  private generation = 0;
  /** Highest position confirmed by the tracker: the only LSN we ever report. */
  private confirmed: Lsn = ZERO_LSN;
  /** Last position queued or tracked; keeps positions strictly increasing. */
  private lastPosition: Lsn = ZERO_LSN;
  private paused = false;
  private waiters: Array<() => void> = [];
  private fatal: Error | undefined;
  private stopping = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private feedbackTimer: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private statusIntervalMs: number;
  /** Per-event counts, added to the Prometheus counter once per batch handed out. */
  private readonly eventCounts = new CounterBuffer(m.events);
  private readonly visibility: VisibilityGate | undefined;
  /** Batches taken and tracked but abandoned while held by the visibility gate (stop does not wait for them). */
  private withheld = 0;
  private readTail: Promise<unknown> = Promise.resolve();
  /** Bytes of change data received since the last batch, added to the metric once per batch. */
  private bytesPending = 0;
  /** Batches taken from the buffer and held by the visibility gate right now. */
  private holding = 0;
  /** The column-demand provider threw last time (logged once per streak). */
  private demandFailing = false;

  constructor(options: PostgresSourceOptions) {
    this.o = resolvePostgresSourceOptions(options);
    this.lowWater = Math.floor(this.o.maxBufferedEvents / 2);
    this.statusIntervalMs = this.o.statusIntervalMs;
    this.decoder = new PgoutputDecoder(this.o.messagePrefix, this.decodedStream(), this.o.explicitPolicy, this.name);
    this.decoder.useDemand(this.currentDemand());
    if (this.o.waitForVisibility) this.visibility = new VisibilityGate(this.o.connectionString);
  }

  get status(): SourceStatus {
    return this.statusValue;
  }

  /** The position confirmed to the server so far (`X/Y`). */
  get confirmedLsn(): string {
    return formatLsn(this.confirmed);
  }

  /**
   * Checks wal_level, creates or checks the publication and the slot, and starts streaming.
   * Throws ConfigError for what an operator must fix, and a retriable CdcError
   * (code SLOT_ACTIVE) when another consumer holds the slot.
   */
  async start(): Promise<void> {
    if (this.statusValue !== 'idle') throw new Error(`PostgresSource.start() called in status ${this.statusValue}`);
    this.setStatus('connecting');
    try {
      const resumeFrom = await withClient(this.o.connectionString, async (client) => {
        await checkWalLevel(client);
        await this.capStatusInterval(client);
        await ensurePublication(client, this.o, this.log);
        return ensureSlot(client, this.o.slotName, { create: this.o.createSlot }, this.log);
      });
      await this.visibility?.open();
      const current = await this.connect(resumeFrom);
      if (current) this.setStatus('streaming'); // else it was lost at once and is reconnecting
    } catch (err) {
      await this.visibility?.close();
      this.setStatus('idle');
      throw err;
    }
    this.statusTimer = setInterval(() => this.sendStatus(false), this.statusIntervalMs);
    this.statusTimer.unref();
  }

  /**
   * The next batch. Calls are served one at a time, in call order: a batch held by the
   * visibility gate must not be overtaken by the one behind it (per-row order).
   */
  read(maxEvents: number): Promise<SourceBatch | null> {
    const next = this.readTail.then(() => this.readOne(maxEvents));
    this.readTail = next.catch(() => undefined);
    return next;
  }

  private async readOne(maxEvents: number): Promise<SourceBatch | null> {
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.stopping) return null;
      const gen = this.generation;
      // Taking and tracking happen in one synchronous step: tracker order = stream order.
      const run = this.buffer.take(Math.max(1, maxEvents));
      this.eventCounts.flush();
      this.flushBytes();
      for (const letter of run.deadLetters) this.publishDeadLetter(gen, letter);
      if (run.events.length === 0) {
        if (run.position !== undefined) this.complete(gen, this.tracker.track(run.position));
        this.resumeIfDrained();
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const ticket = this.tracker.track(run.position);
      this.resumeIfDrained();
      m.buffered.set({ source: this.name }, this.buffer.eventCount);
      if (this.visibility) {
        this.holding++;
        const visible = await this.visibility
          .waitUntilVisible(transactionIds(run.events), () => this.stopping || !!this.fatal || gen !== this.generation)
          .finally(() => this.holding--);
        if (!visible) {
          // Never acked: not confirmed, streamed again. A new generation has reset the tracker already.
          if (gen === this.generation) this.withheld++;
          continue;
        }
      }
      // Synchronously up to the hand-out (the pipeline folds the batch with its current rules
      // in the same tick): events decoded without a column the current rules read are
      // streamed again instead.
      if (!this.demandHolds(true) || gen !== this.generation) continue;
      let acked = false;
      return {
        events: run.events,
        ack: () => {
          if (acked) return;
          acked = true;
          this.complete(gen, ticket);
        },
      };
    }
  }

  /**
   * Stops reading, waits up to stopTimeoutMs for batches already handed out to be acked,
   * reports the confirmed position and closes the connection. Unread events are dropped:
   * they are not confirmed and will be streamed again.
   */
  async stop(): Promise<void> {
    if (this.stopping || this.statusValue === 'closed') return;
    this.stopping = true;
    this.connection?.pause();
    this.buffer.clear();
    this.wakeReaders();
    const deadline = Date.now() + this.o.stopTimeoutMs;
    const handedOut = (): number => this.tracker.inFlight - this.withheld;
    while (handedOut() > 0 && !this.fatal && Date.now() < deadline) await sleep(5);
    if (handedOut() > 0) this.log.warn({ inFlight: this.tracker.inFlight }, 'stopping with unacked batches: they will be streamed again');
    this.abort.abort();
    clearInterval(this.statusTimer);
    clearTimeout(this.feedbackTimer);
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      await connection.sendStatus(this.confirmed, nowMs());
      await connection.close();
      const pid = connection.backendPid;
      if (pid !== undefined) {
        const released = await waitForSlotRelease(this.o.connectionString, this.o.slotName, pid, 2_000).catch(() => false);
        if (!released) this.log.warn({ slot: this.o.slotName, pid }, 'the slot was not released within 2 s of closing');
      }
    }
    await this.reconnecting;
    await this.visibility?.close();
    this.setStatus('closed');
    this.log.info({ confirmedLsn: formatLsn(this.confirmed) }, 'postgres source stopped');
  }

  /** The slot's state, and refreshes the slot gauges. Call periodically. */
  slotStatus(): Promise<SlotStatus | undefined> {
    return slotStatus(this.o.connectionString, this.o.slotName);
  }

  // --- connection lifecycle -------------------------------------------------------------

  /** Opens a connection for a new generation; false when it was superseded (stop, or lost at once). */
  private async connect(resumeFrom: Lsn): Promise<boolean> {
    const gen = this.newGeneration(resumeFrom);
    const connection = await ReplicationConnection.open(this.o, this.replicationHandlers(gen));
    if (this.stopping || gen !== this.generation) {
      await connection.close();
      return false;
    }
    this.connection = connection;
    // Events may have filled the buffer before `open` resolved.
    if (this.paused) connection.pause();
    this.log.info(
      { slot: this.o.slotName, publication: this.o.publicationName, resumeFrom: formatLsn(resumeFrom), url: redactUrl(this.o.connectionString) },
      'streaming from replication slot',
    );
    return true;
  }

  /** Forgets everything tied to the previous connection. */
  private newGeneration(resumeFrom: Lsn | undefined): number {
    this.generation++;
    this.buffer.clear();
    this.decoder.resetTransaction();
    this.tracker.reset(resumeFrom);
    this.withheld = 0;
    if (resumeFrom !== undefined) {
      this.confirmed = resumeFrom;
      this.lastPosition = resumeFrom;
      m.confirmedLsn.set({ source: this.name }, Number(resumeFrom));
    }
    this.setPaused(false);
    return this.generation;
  }

  private replicationHandlers(gen: number): ReplicationHandlers {
    return {
      onMessage: (frame, start) => {
        if (gen !== this.generation) return;
        this.bytesPending += frame.length - start;
        // A new demand is taken up at a transaction's Begin (and checked again before every
        // hand-out, which is what keeps it exact): not once per row.
        if (frame[start] === BEGIN && !this.demandHolds(false)) return; // re-streaming: this message comes again
        this.decoder.decode(frame, start);
      },
      onKeepalive: (walEnd, replyRequested) => {
        if (gen !== this.generation) return;
        // Between transactions, everything before the server's WAL end has been sent to us:
        // once it is processed the slot may move there, so unrelated WAL is not retained.
        if (!this.decoder.inTransaction) this.positionReached(walEnd);
        if (replyRequested) this.sendStatus(false);
      },
      onClosed: (error) => {
        if (gen !== this.generation || this.stopping) return;
        this.connectionLost(error);
      },
    };
  }

  /**
   * Brings the decoder to the current column demand. False when that needs events already
   * decoded to be decoded again: then a re-stream has started (or stop/failure is under way).
   * `batchInHand`: readOne holds a taken batch (its events count as decoded).
   */
  private demandHolds(batchInHand: boolean): boolean {
    const demand = this.currentDemand();
    if (demand === this.decoder.demand) return true;
    const decodedEvents = batchInHand || !this.buffer.isEmpty || this.holding > 0;
    if (!decodedEvents || this.decoder.covers(demand)) {
      this.decoder.useDemand(demand);
      return true;
    }
    this.decoder.useDemand(demand);
    this.restream();
    return false;
  }

  /** The columns to decode now; every column when the provider fails (never a reason to stop streaming). */
  private currentDemand(): ColumnDemand {
    try {
      const demand = this.o.columns();
      this.demandFailing = false;
      return demand;
    } catch (err) {
      if (!this.demandFailing) this.log.warn({ err: errorMessage(err) }, 'column demand unavailable: decoding every column');
      this.demandFailing = true;
      return ALL_COLUMNS;
    }
  }

  /** Drops what was decoded and not handed out, and streams again from the confirmed position. */
  private restream(): void {
    if (this.stopping || this.fatal) return;
    m.restreams.inc({ source: this.name });
    this.log.info('the rules now read columns that decoded events lack: streaming them again from the confirmed position');
    const old = this.connection;
    this.connection = undefined;
    const stalePid = old?.backendPid;
    void old?.close();
    this.setStatus('reconnecting');
    this.newGeneration(undefined);
    this.reconnecting = this.reconnect(stalePid);
  }

  private connectionLost(error: Error): void {
    const old = this.connection;
    this.connection = undefined;
    const stalePid = old?.backendPid;
    void old?.close();
    if (error instanceof CdcError && !error.retriable) return this.fail(error);
    m.reconnects.inc({ source: this.name });
    this.log.warn({ err: errorMessage(error) }, 'replication connection lost; reconnecting');
    this.setStatus('reconnecting');
    this.newGeneration(undefined); // acks of batches from the old connection become no-ops now
    this.reconnecting = this.reconnect(stalePid);
  }

  private async reconnect(stalePid: number | undefined): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      await sleep(backoffDelay(attempt, this.o.reconnect.initialDelayMs, this.o.reconnect.maxDelayMs), this.abort.signal);
      if (this.stopping) return;
      try {
        const resumeFrom = await withClient(this.o.connectionString, async (client) => {
          await this.requirePublication(client);
          // Never create the slot here: a slot that vanished means changes were missed.
          return ensureSlot(client, this.o.slotName, { create: false, ownStalePid: stalePid }, this.log);
        });
        if (!(await this.connect(resumeFrom))) return; // stopping, or another reconnect took over
        this.setStatus('streaming');
        this.log.info({ attempt }, 'reconnected');
        return;
      } catch (err) {
        if (err instanceof CdcError && !err.retriable) return this.fail(err);
        this.log.warn({ attempt, err: errorMessage(err) }, 'reconnect failed; retrying');
      }
    }
  }

  private async requirePublication(client: Client): Promise<void> {
    const { rowCount } = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [this.o.publicationName]);
    if (!rowCount) throw new ConfigError(`publication "${this.o.publicationName}" no longer exists: recreate it and backfill the caches`, 'PUBLICATION_MISSING');
  }

  /** Keeps status updates more frequent than wal_sender_timeout, so a long pause does not drop us. */
  private async capStatusInterval(client: Client): Promise<void> {
    const timeout = await walSenderTimeoutMs(client);
    if (timeout > 0 && this.statusIntervalMs > timeout / 2) {
      this.statusIntervalMs = Math.max(10, Math.floor(timeout / 2));
      this.log.warn({ statusIntervalMs: this.statusIntervalMs, walSenderTimeoutMs: timeout }, 'status interval lowered below wal_sender_timeout');
    }
  }

  private fail(error: Error): void {
    if (this.fatal) return;
    this.fatal = error;
    this.log.error({ err: errorMessage(error) }, 'postgres source failed');
    clearInterval(this.statusTimer);
    clearTimeout(this.feedbackTimer);
    const connection = this.connection;
    this.connection = undefined;
    void connection?.close();
    void this.visibility?.close();
    this.setStatus('closed');
    this.wakeReaders();
  }

  // --- decoded stream → buffer, tracker --------------------------------------------------

  private decodedStream(): DecodedStream {
    return {
      onEvent: (event, count) => {
        this.buffer.pushEvent(event);
        const c = count ?? MESSAGE_COUNT;
        this.eventCounts.add(c.key, c.labels);
        if (!this.paused && this.buffer.eventCount >= this.o.maxBufferedEvents) this.setPaused(true);
        if (this.waiters.length) this.wakeReaders();
      },
      onCommit: (endLsn) => this.positionReached(endLsn),
      onDeadLetter: (letter) => {
        m.deadLetters.inc({ source: this.name });
        if (this.buffer.isEmpty) this.publishDeadLetter(this.generation, letter);
        else this.buffer.pushDeadLetter(letter);
      },
      onSkip: (reason) => m.skipped.inc({ source: this.name, reason }),
    };
  }

  private positionReached(lsn: Lsn): void {
    if (lsn <= this.lastPosition) return;
    this.lastPosition = lsn;
    // Nothing queued: everything before is tracked already, so this position can be
    // tracked now as a completed unit. Otherwise it waits its turn in the queue.
    if (this.buffer.isEmpty) this.complete(this.generation, this.tracker.track(lsn));
    else this.buffer.pushPosition(lsn);
  }

  private complete(gen: number, ticket: number): void {
    if (gen !== this.generation) return;
    const advanced = this.tracker.complete(ticket);
    if (advanced === undefined || advanced <= this.confirmed) return;
    this.confirmed = advanced;
    m.confirmedLsn.set({ source: this.name }, Number(advanced));
    if (!this.feedbackTimer) {
      this.feedbackTimer = setTimeout(() => {
        this.feedbackTimer = undefined;
        this.sendStatus(false);
      }, FEEDBACK_DELAY_MS);
    }
  }

  private sendStatus(replyRequested: boolean): void {
    void this.connection?.sendStatus(this.confirmed, nowMs(), replyRequested);
  }

  /** Dead letters are tracked like a batch: the position does not pass them until they are stored. */
  private publishDeadLetter(gen: number, letter: DeadLetter): void {
    const ticket = this.tracker.track(undefined);
    const sink = this.o.deadLetters;
    if (!sink) {
      this.log.error({ reason: letter.reason, position: letter.position }, 'dead letter (no dead-letter sink configured)');
      this.complete(gen, ticket);
      return;
    }
    withRetry(() => sink.publish([letter]), {
      maxAttempts: Infinity,
      retryIf: () => true,
      signal: this.abort.signal,
      onRetry: (err, attempt) => this.log.warn({ err: errorMessage(err), attempt }, 'dead-letter publish failed; retrying'),
    }).then(
      () => this.complete(gen, ticket),
      (err: unknown) => this.log.error({ err: errorMessage(err) }, 'dead letter not stored: its position stays unconfirmed'),
    );
  }

  private flushBytes(): void {
    if (this.bytesPending === 0) return;
    m.bytes.inc({ source: this.name }, this.bytesPending);
    this.bytesPending = 0;
  }

  // --- backpressure, readers, status --------------------------------------------------------

  private resumeIfDrained(): void {
    if (this.paused && this.buffer.eventCount <= this.lowWater) this.setPaused(false);
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (paused) this.connection?.pause();
    else this.connection?.resume();
    m.paused.set({ source: this.name }, paused ? 1 : 0);
    m.buffered.set({ source: this.name }, this.buffer.eventCount);
  }

  private wakeReaders(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private setStatus(status: SourceStatus): void {
    if (status === this.statusValue) return;
    this.log.debug({ from: this.statusValue, to: status }, 'source status');
    this.statusValue = status;
  }
}

/** Distinct 32-bit xids of a batch's transactions, in order. */
function transactionIds(events: readonly ChangeEvent[]): number[] {
  const ids = new Set<number>();
  for (const e of events) if (e.txId !== undefined) ids.add(Number(e.txId));
  return [...ids];
}
