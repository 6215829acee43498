import { FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Logger, childLogger, errorMessage } from '@cdc/core';

export type CheckTrigger = 'watch' | 'poll';

export interface RulesFileWatcherOptions {
  /** The rules file; its directory is watched. */
  readonly file: string;
  /** Quiet time after the last directory event before checking (the kubelet's swap is several events). Default 200. */
  readonly debounceMs?: number;
  /** Interval of the fallback check, for volumes where inotify misses events. */
  readonly pollIntervalMs: number;
  /** Asks for a content check; never called while stopped. */
  readonly onCheck: (trigger: CheckTrigger) => void;
}

/**
 * Tells its owner when the rules file may have changed. Watches the file's DIRECTORY, not
 * the file: Kubernetes updates a ConfigMap mount by renaming a new `..data` symlink over the
 * old one, which a watch on `rules.yaml` (bound to the old inode) never sees. A periodic
 * tick is the fallback for volumes without reliable inotify, and re-arms a watch that died.
 * It does no I/O on the file itself: the owner compares content hashes.
 */
export class RulesFileWatcher {
  private readonly log: Logger = childLogger('rules-watcher');
  private readonly dir: string;
  private readonly name: string;
  private readonly debounceMs: number;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly options: RulesFileWatcherOptions) {
    this.dir = dirname(options.file);
    this.name = basename(options.file);
    this.debounceMs = options.debounceMs ?? 200;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm();
    this.poll = setInterval(() => {
      if (!this.watcher) this.arm();
      this.options.onCheck('poll');
    }, this.options.pollIntervalMs);
    this.poll.unref();
    this.log.info({ dir: this.dir, pollIntervalMs: this.options.pollIntervalMs }, 'watching the rules directory');
  }

  stop(): void {
    this.running = false;
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    this.poll = this.debounce = undefined;
    this.disarm();
  }

  private arm(): void {
    try {
      // Not persistent: a watch must never keep a stopping process alive.
      this.watcher = watch(this.dir, { persistent: false }, (_event, filename) => {
        if (this.concerns(filename)) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.log.warn({ dir: this.dir, err: errorMessage(err) }, 'rules directory watch failed; relying on the periodic check until it can be re-armed');
        this.disarm();
      });
    } catch (err) {
      this.log.warn({ dir: this.dir, err: errorMessage(err) }, 'cannot watch the rules directory; relying on the periodic check');
      this.watcher = undefined;
    }
  }

  private disarm(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /**
   * The rules file itself, or the kubelet's `..data` / `..data_tmp` / `..<timestamp>` entries;
   * other files sharing the directory (logs, editor swap files) do not trigger a check.
   * No name (some platforms) counts as relevant.
   */
  private concerns(filename: string | Buffer | null): boolean {
    if (filename === null) return true;
    const name = filename.toString();
    return name === this.name || name.startsWith('..');
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (this.running) this.options.onCheck('watch');
    }, this.debounceMs);
    this.debounce.unref();
  }
}
