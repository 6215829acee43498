import { ChangeEvent, MissingValue, RuleMatch } from '@cdc/core';

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

/** What PendingBatch.fold reports per event, for metrics and logs. */
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
