import { ChangeEvent, ChangeOp, LocatedProblem, RuleMatch, SourceLocation } from '@cdc/core';
import { RowSide } from './event-rows';

/** A column a rule reads, where, and through which template or `where` key. */
export interface RuleColumn {
  readonly column: string;
  readonly side: RowSide;
  /** The template (or `where` key) as written. */
  readonly template: string;
  readonly location: SourceLocation;
}

/** What `validate`, `explain` and the admin API need to know about a rule. */
export interface RuleInfo {
  readonly name: string;
  readonly description?: string;
  /** Table names and globs as written. */
  readonly tables: readonly string[];
  readonly ops: readonly ChangeOp[];
  readonly location: SourceLocation;
  /** Columns named by placeholders in the rule's templates. */
  readonly columns: readonly RuleColumn[];
  readonly changedColumns: readonly string[];
  /** Columns named by `when.where` and `when.any` keys. */
  readonly whereColumns: readonly RuleColumn[];
}

/** A loaded rules file compiled into an immutable plan. */
export interface CompiledRules {
  readonly file: string;
  /** sha256 hex of the file text. */
  readonly hash: string;
  readonly warnings: readonly LocatedProblem[];
  readonly defaultChannels: readonly string[];
  /**
   * Channels written in the file as static text (the defaults and placeholder-free rule
   * channels): the L1 sink beats on them from the start. Only these may name a metric label: a templated channel carries row values.
   */
  readonly staticChannels: ReadonlySet<string>;
  readonly rules: readonly RuleInfo[];
  /** Zone and distribution aliases the rules use; configuration must define each. */
  readonly cdnAliases: { readonly cloudflare: readonly string[]; readonly cloudfront: readonly string[] };
  /** Table names and globs named by rules, deduplicated, in file order (for publications). */
  tablePatterns(): string[];
  appliesTo(schema: string, table: string): boolean;
  /**
   * Hot path: the matches of one event. A rule that throws on the event is reported to
   * `onRuleError` and skipped (the other rules' matches are returned); without a handler
   * the error propagates.
   */
  evaluate(event: ChangeEvent, onRuleError?: RuleErrorHandler): RuleMatch[];
}

/** Told about one rule that failed on one event; the caller dead-letters that rule's unit. */
export type RuleErrorHandler = (rule: string, err: unknown) => void;

export type SkipReason = 'table' | 'op' | 'changed' | 'where' | 'any';

export interface RuleExplanation {
  readonly rule: string;
  readonly matched: boolean;
  /** Why the rule did not fire (absent when it matched). */
  readonly skipped?: SkipReason;
  readonly detail?: string;
  readonly match?: RuleMatch;
}

export interface ExplainResult {
  readonly event: { readonly op: ChangeOp; readonly table: string };
  /** One entry per rule, in file order (plus `explicit` for a message event). */
  readonly rules: readonly RuleExplanation[];
  /** Exactly what evaluate() returns for the event. */
  readonly matches: readonly RuleMatch[];
}
