import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { LocatedProblem, Logger, RulesError, childLogger, errorMessage, formatProblem } from '@cdc/core';
import { CompiledRules, RulesLoadOptions, checkRulesSize, compileRules } from '@cdc/rules';
import { BootFacts, checkAgainstBoot } from './reload-checks';
import { CheckTrigger } from './rules-file-watcher';
import { ReloadOutcome, recordReload, recordRulesInEffect } from './rules-metrics';

export interface ReloadReport {
  readonly outcome: ReloadOutcome;
  readonly trigger: CheckTrigger | 'manual';
  readonly at: string;
  /** sha256 of the file examined (absent when it could not be read). */
  readonly hash?: string;
  /** Errors (invalid) or warnings (applied) found. */
  readonly problems: readonly LocatedProblem[];
}

export interface RulesReloaderOptions {
  readonly file: string;
  readonly boot: BootFacts;
  /** The rules in effect. */
  readonly current: () => CompiledRules;
  /** Puts new rules in effect (a reference swap; the pipeline picks them up at its next batch). */
  readonly apply: (rules: CompiledRules) => void;
  /** Size limit and pattern floor, as at start (RULES_MAX_BYTES, PATTERN_MIN_PREFIX). */
  readonly load?: RulesLoadOptions;
}

/**
 * Reads, compiles and checks the rules file when asked, and swaps it in only when it is
 * new and sound. Checks run one at a time, outside the pipeline's batches: the pipeline
 * sees either the old plan or the new one, never half a file. A rejected file leaves the
 * old plan running, sets cdc_rules_valid to 0 and logs every problem as file:line:column.
 */
export class RulesReloader {
  private readonly log: Logger = childLogger('rules');
  /** Hash of the last text examined (or the read error), so an unchanged bad file is reported once. */
  private lastSeen: string;
  private queue: Promise<unknown> = Promise.resolve();
  private lastReport?: ReloadReport;

  constructor(private readonly options: RulesReloaderOptions) {
    this.lastSeen = options.current().hash;
  }

  get last(): ReloadReport | undefined {
    return this.lastReport;
  }

  /**
   * Examines the file. Resolves with what happened, or undefined when a periodic check
   * found the content it saw last (a non-event, not counted).
   */
  check(trigger: ReloadReport['trigger']): Promise<ReloadReport | undefined> {
    const run = this.queue.then(() => this.run(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(trigger: ReloadReport['trigger']): Promise<ReloadReport | undefined> {
    const file = this.options.file;
    let text: string;
    try {
      // An oversized file is refused before it is read: compiling it could exhaust the heap of a running worker.
      const { size, mtimeMs } = await stat(file);
      try {
        checkRulesSize(size, file, this.options.load);
      } catch (err) {
        if (!(err instanceof RulesError)) throw err;
        const seen = `too-big:${size}:${mtimeMs}`;
        if (this.lastSeen === seen) return this.unchanged(trigger);
        this.lastSeen = seen;
        return this.reject(trigger, undefined, err.problems);
      }
      text = await readFile(file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
      if (this.lastSeen === `unreadable:${reason}`) return this.unchanged(trigger);
      this.lastSeen = `unreadable:${reason}`;
      return this.reject(trigger, undefined, [{ file, line: 1, column: 1, severity: 'error', message: `cannot read the rules file (${reason})` }]);
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === this.lastSeen) return this.unchanged(trigger);
    this.lastSeen = hash;

    let rules: CompiledRules;
    try {
      rules = compileRules(text, file, this.options.load);
    } catch (err) {
      const problems = err instanceof RulesError ? err.problems : [{ file, line: 1, column: 1, severity: 'error' as const, message: `cannot compile: ${errorMessage(err)}` }];
      return this.reject(trigger, hash, problems);
    }
    const previous = this.options.current();
    if (rules.hash === previous.hash) {
      // Back to the file in effect (e.g. a bad edit reverted): nothing to swap, but the rules are valid again.
      recordRulesInEffect(previous.hash);
      return this.unchanged(trigger, hash, true);
    }
    const { errors, warnings } = checkAgainstBoot(rules, text, this.options.boot);
    if (errors.length > 0) return this.reject(trigger, hash, [...errors].sort((a, b) => a.line - b.line || a.column - b.column));

    this.options.apply(rules);
    recordRulesInEffect(rules.hash);
    recordReload('applied');
    const problems = [...rules.warnings, ...warnings];
    for (const p of problems) this.log.warn({ file: p.file, line: p.line, column: p.column }, formatProblem(p));
    this.log.info({ file, trigger, previousHash: previous.hash, hash: rules.hash, rules: rules.rules.length, warnings: problems.length }, 'rules reloaded');
    return this.report({ outcome: 'applied', trigger, hash: rules.hash, problems });
  }

  private reject(trigger: ReloadReport['trigger'], hash: string | undefined, problems: readonly LocatedProblem[]): ReloadReport {
    recordReload('invalid');
    for (const p of problems) this.log.error({ file: p.file, line: p.line, column: p.column, severity: p.severity }, formatProblem(p));
    this.log.error(
      { file: this.options.file, trigger, hash, inEffect: this.options.current().hash, errors: problems.filter((p) => p.severity === 'error').length },
      'rules reload rejected; the previous rules stay in effect',
    );
    return this.report({ outcome: 'invalid', trigger, hash, problems });
  }

  /** A periodic check that saw nothing new is a non-event; a directory event or a changed-back file is counted. */
  private unchanged(trigger: ReloadReport['trigger'], hash?: string, contentChanged = false): ReloadReport | undefined {
    if (trigger === 'poll' && !contentChanged) return undefined;
    recordReload('unchanged');
    this.log.debug({ file: this.options.file, trigger }, 'rules directory changed but the rules in effect did not');
    const seenHash = /^(unreadable|too-big):/.test(this.lastSeen) ? undefined : this.lastSeen;
    return this.report({ outcome: 'unchanged', trigger, hash: hash ?? seenHash, problems: [] });
  }

  private report(r: Omit<ReloadReport, 'at'>): ReloadReport {
    this.lastReport = { ...r, at: new Date().toISOString() };
    return this.lastReport;
  }
}
