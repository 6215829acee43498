import { ChangeEvent, InvalidationBatch, RuleMatch, SourceBatch } from '@cdc/core';
import { BuildHooks, RuleEvaluator, RuleFailure } from './batch-builder';

/**
 * Folds consecutive source batches into one coalesced InvalidationBatch. Pure: rules
 * in, batch out; the I/O stages sit around it in InvalidationPipeline.
 */
export class PendingBatch {
  readonly invalidation = new InvalidationBatch();
  /** Rule failures of the folded events, to be dead-lettered before the batch is confirmed. */
  readonly failures: RuleFailure[] = [];
  actionsBeforeCoalescing = 0;
  /**
   * Only the source batches' acks: holding the batches would keep every folded event (and its
   * rows) alive until the batch is acked, and the GC would copy them along at every scavenge.
   */
  private readonly acks: Array<() => void> = [];

  get eventCount(): number {
    return this.invalidation.eventCount;
  }

  get isEmpty(): boolean {
    return this.acks.length === 0;
  }

  fold(batch: SourceBatch, rules: RuleEvaluator, hooks: BuildHooks): void {
    this.acks.push(batch.ack);
    let event: ChangeEvent | undefined;
    // One handler per fold, not one closure per event.
    const onRuleError = (rule: string, error: unknown): void => this.fail({ event: event!, rule, error }, hooks);
    const invalidation = this.invalidation;
    for (event of batch.events) {
      invalidation.addEvent(event);
      let matches: RuleMatch[];
      try {
        matches = rules.evaluate(event, onRuleError);
      } catch (error) {
        this.fail({ event, error }, hooks);
        continue;
      }
      hooks.onEvent(event, matches.length > 0);
      for (let i = 0; i < matches.length; i++) {
        const match = matches[i];
        hooks.onMatch(match);
        for (let j = 0; j < match.missing.length; j++) hooks.onMissing(match.missing[j]);
        this.actionsBeforeCoalescing += match.keys.length + match.tags.length + match.patterns.length + match.cdn.length;
        invalidation.addMatch(match);
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

  /** Acks every folded source batch, in order. */
  ackAll(): void {
    for (const ack of this.acks) ack();
  }
}
