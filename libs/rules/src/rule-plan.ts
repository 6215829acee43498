import { ChangeEvent, LocatedProblem, RuleMatch } from '@cdc/core';
import { CompiledRule, RuleSpec } from './compiled-rule';
import { EventRows } from './event-rows';
import { RuleIndex } from './rule-index';
import { CompiledRules, RuleErrorHandler, RuleInfo } from './types';

const NO_MATCHES: RuleMatch[] = [];

/** The immutable plan behind CompiledRules: rule index plus compiled rules. */
export class RulePlan implements CompiledRules {
  readonly rules: readonly RuleInfo[];
  readonly cdnAliases: { readonly cloudflare: readonly string[]; readonly cloudfront: readonly string[] };
  readonly staticChannels: ReadonlySet<string>;
  /** Compiled rules in file order (for explain). */
  readonly compiled: readonly CompiledRule[];
  readonly index: RuleIndex<CompiledRule>;

  constructor(
    readonly file: string,
    readonly hash: string,
    readonly warnings: readonly LocatedProblem[],
    readonly defaultChannels: readonly string[],
    specs: readonly RuleSpec[],
  ) {
    this.compiled = Object.freeze(specs.map((s) => new CompiledRule(s, defaultChannels)));
    this.rules = Object.freeze(specs.map((s) => s.info));
    this.index = new RuleIndex(this.compiled);
    const aliases = (provider: 'cloudflare' | 'cloudfront') =>
      Object.freeze([...new Set(specs.flatMap((s) => s.cdn.filter((c) => c.provider === provider).map((c) => c.target)))].sort());
    this.cdnAliases = Object.freeze({ cloudflare: aliases('cloudflare'), cloudfront: aliases('cloudfront') });
    const constants = specs.flatMap((s) => s.channels.flatMap((c) => (c.constant === undefined ? [] : [c.constant])));
    this.staticChannels = new Set([...defaultChannels, ...constants]);
    Object.freeze(this);
  }

  tablePatterns(): string[] {
    return [...new Set(this.rules.flatMap((r) => r.tables))];
  }

  appliesTo(schema: string, table: string): boolean {
    return this.index.hasTable(schema, table);
  }

  evaluate(event: ChangeEvent, onRuleError?: RuleErrorHandler): RuleMatch[] {
    if (event.op === 'message') return this.explicit(event);
    const candidates = this.index.lookup(event.schema, event.table, event.op);
    if (candidates.length === 0) return NO_MATCHES;
    const rows = new EventRows(event);
    if (candidates.length === 1) return this.evaluateOne(candidates[0], event, rows, onRuleError);
    const out: RuleMatch[] = [];
    for (const rule of candidates) {
      // A rule that throws on this event (e.g. a jsonb value nested so deep that rendering it
      // overflows the stack) loses only its own output: the other rules still run.
      try {
        if (rule.skip(event, rows) === undefined) out.push(rule.render(rows));
      } catch (err) {
        if (!onRuleError) throw err;
        onRuleError(rule.name, err);
      }
    }
    return out;
  }

  /** The common case of one rule per table: the result array is allocated at its size, or not at all. */
  private evaluateOne(rule: CompiledRule, event: ChangeEvent, rows: EventRows, onRuleError: RuleErrorHandler | undefined): RuleMatch[] {
    try {
      return rule.skip(event, rows) === undefined ? [rule.render(rows)] : NO_MATCHES;
    } catch (err) {
      if (!onRuleError) throw err;
      onRuleError(rule.name, err);
      return NO_MATCHES;
    }
  }

  /** An explicit invalidation from pg_logical_emit_message: applied as given, to the default channels. */
  explicit(event: ChangeEvent): RuleMatch[] {
    const e = event.explicit;
    if (!e) return NO_MATCHES;
    return [{ rule: 'explicit', keys: e.keys, tags: e.tags, patterns: e.patterns, channels: this.defaultChannels, cdn: [], missing: [] }];
  }
}
