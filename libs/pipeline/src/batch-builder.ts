import { ChangeEvent, InvalidationBatch, MissingValue, RuleMatch, SourceBatch } from '@cdc/core';

/** What the pipeline needs from compiled rules (see @cdc/rules CompiledRules). */
export interface RuleEvaluator {
  evaluate(event: ChangeEvent): RuleMatch[];
}

export interface BuildHooks {
  onEvent(event: ChangeEvent, matched: boolean): void;
  onMatch(match: RuleMatch): void;
  onMissing(missing: MissingValue): void;
  /** An event the rules could not process; it is dead-lettered and the stream goes on. */
  onBadEvent(event: ChangeEvent, err: unknown): void;
}

/**
 * Folds consecutive source batches into one coalesced InvalidationBatch. Pure: rules
 * in, batch out; the I/O stages sit around it in InvalidationPipeline.
 */
export class PendingBatch {
  readonly invalidation = new InvalidationBatch();
  readonly sourceBatches: SourceBatch[] = [];
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
        matches = rules.evaluate(event);
      } catch (err) {
        hooks.onBadEvent(event, err);
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

  /** Distinct actions after coalescing (keys + tags + patterns + CDN purges). */
  get actionCount(): number {
    const b = this.invalidation;
    return b.keys.size + b.tags.size + b.patterns.size + b.cdnCount;
  }

  ackAll(): void {
    for (const b of this.sourceBatches) b.ack();
  }
}
