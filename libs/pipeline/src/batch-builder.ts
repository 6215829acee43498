import { ChangeEvent, InvalidationBatch, MissingValue, RuleMatch, SourceBatch } from '@cdc/core';

/** What the pipeline needs from compiled rules (see @cdc/rules CompiledRules). */
export interface RuleEvaluator {
  /** A rule that throws on the event is reported to `onRuleError` and skipped; the other rules' matches are returned. */
  evaluate(event: ChangeEvent, onRuleError?: (rule: string, err: unknown) => void): RuleMatch[];
}

/** One rule (or, with `rule` undefined, the whole rules stage) that failed on one event. */
export interface RuleFailure {
  readonly event: ChangeEvent;
  readonly rule?: string;
  readonly error: unknown;
}

export interface BuildHooks {
  onEvent(event: ChangeEvent, matched: boolean): void;
  onMatch(match: RuleMatch): void;
  onMissing(missing: MissingValue): void;
  /**
   * A rule (or, with `rule` undefined, the whole rules stage) failed on an event: counted and
   * logged here; the failure is kept in `failures` and dead-lettered with the batch.
   */
  onRuleFailure(failure: RuleFailure): void;
}

/**
 * Folds consecutive source batches into one coalesced InvalidationBatch. Pure: rules
 * in, batch out; the I/O stages sit around it in InvalidationPipeline.
 */
export class PendingBatch {
  readonly invalidation = new InvalidationBatch();
  readonly sourceBatches: SourceBatch[] = [];
  /** Rule failures of the folded events, to be dead-lettered before the batch is confirmed. */
  readonly failures: RuleFailure[] = [];
  actionsBeforeCoalescing = 0;

  get eventCount(): number {
    return this.invalidation.eventCount;
  }

  get isEmpty(): boolean {
    return this.sourceBatches.length === 0;
  }

  fold(batch: SourceBatch, rules: RuleEvaluator, hooks: BuildHooks): void {
    this.sourceBatches.push(batch);
    for (const event of batch.events) {
      this.invalidation.addEvent(event);
      let matches: RuleMatch[];
      try {
        matches = rules.evaluate(event, (rule, error) => this.fail({ event, rule, error }, hooks));
      } catch (error) {
        this.fail({ event, error }, hooks);
        continue;
      }
      hooks.onEvent(event, matches.length > 0);
      for (const match of matches) {
        hooks.onMatch(match);
        for (const m of match.missing) hooks.onMissing(m);
        this.actionsBeforeCoalescing += match.keys.length + match.tags.length + match.patterns.length + match.cdn.length;
        this.invalidation.addMatch(match);
      }
    }
  }

  private fail(failure: RuleFailure, hooks: BuildHooks): void {
    this.failures.push(failure);
    hooks.onRuleFailure(failure);
  }

  /** Distinct actions after coalescing (keys + tags + patterns + CDN purges). */
  get actionCount(): number {
    const b = this.invalidation;
    return b.keys.size + b.tags.size + b.patterns.size + b.cdnCount;
  }

  ackAll(): void {
    for (const b of this.sourceBatches) b.ack();
  }
}
