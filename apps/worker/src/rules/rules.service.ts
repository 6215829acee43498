import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { CompiledRules } from '@cdc/rules';
import { childLogger, formatProblem } from '@cdc/core';
import { RulesProvider } from '@cdc/pipeline';
import { WORKER_SETTINGS, WorkerSettings } from '../config/worker-settings';
import { rulesLoadOptions } from '../config/worker-config';
import { RulesFileWatcher } from './rules-file-watcher';
import { RulesReloader, ReloadReport } from './rules-reloader';
import { recordRulesInEffect } from './rules-metrics';

/** What the admin API shows about the rules in effect and their reload. */
export interface RulesState {
  readonly rules: CompiledRules;
  readonly loadedAt: string;
  readonly reload: { readonly enabled: boolean; readonly pollIntervalMs: number; readonly last?: ReloadReport };
}

/**
 * Holds the compiled rules the pipeline evaluates and keeps them in step with the mounted
 * file. The pipeline calls current() once per folded source batch; a reload replaces the
 * reference between two such calls, so a batch is evaluated by one plan, never lost or
 * applied twice.
 */
@Injectable()
export class RulesService implements RulesProvider, OnModuleInit, OnModuleDestroy {
  private readonly log = childLogger('rules');
  private rules?: CompiledRules;
  private loadedAt = '';
  private reloader?: RulesReloader;
  private watcher?: RulesFileWatcher;

  constructor(@Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings) {}

  /** Takes the rules `run` loaded and checked before boot; then starts watching the file. */
  onModuleInit(): void {
    const { worker, rules } = this.settings;
    for (const w of rules.warnings) this.log.warn({ file: w.file, line: w.line, column: w.column }, formatProblem(w));
    this.log.info({ file: rules.file, hash: rules.hash, rules: rules.rules.length }, 'rules loaded');
    this.replace(rules);
    recordRulesInEffect(rules.hash);
    if (!worker.RULES_RELOAD) return;
    this.reloader = new RulesReloader({
      file: worker.RULES_FILE,
      boot: this.settings.bootFacts,
      current: () => this.current(),
      apply: (next) => this.replace(next),
      load: rulesLoadOptions(worker),
    });
    const reloader = this.reloader;
    this.watcher = new RulesFileWatcher({
      file: worker.RULES_FILE,
      pollIntervalMs: worker.RULES_POLL_INTERVAL_MS,
      onCheck: (trigger) => void reloader.check(trigger).catch((err: unknown) => this.log.error({ err }, 'rules check failed')),
    });
    this.watcher.start();
  }

  onModuleDestroy(): void {
    this.watcher?.stop();
  }

  current(): CompiledRules {
    if (!this.rules) throw new Error('rules not loaded yet');
    return this.rules;
  }

  /** Swaps in new rules; the pipeline picks them up at its next batch. */
  replace(rules: CompiledRules): void {
    this.rules = rules;
    this.loadedAt = new Date().toISOString();
  }

  state(): RulesState {
    const { RULES_RELOAD, RULES_POLL_INTERVAL_MS } = this.settings.worker;
    return {
      rules: this.current(),
      loadedAt: this.loadedAt,
      reload: { enabled: RULES_RELOAD, pollIntervalMs: RULES_POLL_INTERVAL_MS, ...(this.reloader?.last ? { last: this.reloader.last } : {}) },
    };
  }

}
