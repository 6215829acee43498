import { SingleBar } from 'cli-progress';
import { Logger, childLogger } from '@cdc/core';
import { BackfillProgress, BackfillSummary } from './backfill-options';

/** Shows backfill progress to an operator; feed it `onProgress` and `finish` with the summary. */
export interface ProgressRenderer {
  update(progress: BackfillProgress): void;
  finish(summary?: BackfillSummary): void;
}

export interface ProgressRendererOptions {
  /** Where a terminal bar is drawn. Default process.stderr (stdout stays for data). */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Non-TTY: at most one log line per this many ms. Default 10000. */
  readonly intervalMs?: number;
  /** Non-TTY: where the lines go. Default childLogger('backfill'). */
  readonly logger?: Logger;
  /** Injected time for the non-TTY interval. Default Date.now. */
  readonly now?: () => number;
  /** Label in front of the bar, usually the table. */
  readonly label?: string;
}

/** A bar with ETA when `stream` is a terminal, else a JSON log line every `intervalMs`. */
export function createProgressRenderer(options: ProgressRendererOptions = {}): ProgressRenderer {
  const stream = options.stream ?? process.stderr;
  return stream.isTTY ? new TerminalProgressBar(stream, options.label ?? 'backfill') : new ProgressLogLines(options);
}

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(rest).padStart(2, '0')}s` : `${rest}s`;
}

/**
 * cli-progress computes its own ETA from recent updates; ours comes from the backfill
 * (it knows about resumed rows and throttling), so it is passed in the payload.
 */
class TerminalProgressBar implements ProgressRenderer {
  private readonly bar: SingleBar;
  private started = false;

  constructor(stream: NodeJS.WritableStream, label: string) {
    this.bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {etaText}`,
      hideCursor: true,
      fps: 5,
    });
  }

  update(p: BackfillProgress): void {
    const payload = { rate: Math.round(p.rowsPerSec), etaText: formatEta(p.etaSeconds) };
    if (!this.started) {
      this.started = true;
      this.bar.start(p.total, p.done, payload);
      return;
    }
    this.bar.setTotal(p.total);
    this.bar.update(p.done, payload);
  }

  finish(): void {
    if (this.started) this.bar.stop();
  }
}

class ProgressLogLines implements ProgressRenderer {
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lastLineAt: number | undefined;
  private last: BackfillProgress | undefined;

  constructor(options: ProgressRendererOptions) {
    this.log = options.logger ?? childLogger('backfill');
    this.intervalMs = options.intervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  update(p: BackfillProgress): void {
    this.last = p;
    const now = this.now();
    if (this.lastLineAt !== undefined && now - this.lastLineAt < this.intervalMs) return;
    this.lastLineAt = now;
    this.line(p);
  }

  finish(summary?: BackfillSummary): void {
    if (summary) this.log.info(summary, summary.completed ? 'backfill completed' : 'backfill stopped');
    else if (this.last) this.line(this.last);
  }

  private line(p: BackfillProgress): void {
    const percent = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
    this.log.info(
      { done: p.done, total: p.total, percent, rowsPerSec: Math.round(p.rowsPerSec), etaSeconds: p.etaSeconds && Math.round(p.etaSeconds) },
      `backfill ${p.done}/${p.total} rows (${percent}%), ETA ${formatEta(p.etaSeconds)}`,
    );
  }
}
