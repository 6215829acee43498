import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { CompiledRules, loadRulesFile } from '@cdc/rules';
import { childLogger } from '@cdc/core';
import { RulesProvider } from '@cdc/pipeline';
import { WORKER_SETTINGS, WorkerSettings } from '../config/worker-settings';

/** Holds the compiled rules the pipeline evaluates; a reload swaps them between batches. */
@Injectable()
export class RulesService implements RulesProvider, OnModuleInit {
  private readonly log = childLogger('rules');
  private rules?: CompiledRules;

  constructor(@Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings) {}

  /** Loads at boot (not lazily) so a bad rules file fails the start with its positions. */
  onModuleInit(): void {
    this.rules = loadRulesFile(this.settings.worker.RULES_FILE);
    for (const w of this.rules.warnings) this.log.warn({ file: w.file, line: w.line, column: w.column }, w.message);
    this.log.info({ file: this.rules.file, hash: this.rules.hash, rules: this.rules.rules.length }, 'rules loaded');
  }

  current(): CompiledRules {
    if (!this.rules) throw new Error('rules not loaded yet');
    return this.rules;
  }

  /** Swaps in new rules; the pipeline picks them up at its next batch. */
  replace(rules: CompiledRules): void {
    this.rules = rules;
  }
}
