import { CdnProvider, CdnPurge, ChangeEvent, ChangeOp, MissingValue, RuleMatch } from '@cdc/core';
import { WhereCondition, WhereFailure, anyColumnChanged, failuresOfAny, firstFailingCondition } from './conditions';
import { EventRows } from './event-rows';
import { CompiledTemplate, renderTemplate } from './render';
import { IndexedRule } from './rule-index';
import { TablePattern } from './table-pattern';
import { RuleInfo } from './types';

export interface CdnTemplate {
  readonly provider: CdnProvider;
  readonly target: string;
  readonly kind: CdnPurge['kind'];
  readonly template: CompiledTemplate;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Everything the compiler resolved for one rule. */
export interface RuleSpec {
  readonly info: RuleInfo;
  readonly tables: readonly TablePattern[];
  readonly ops: ReadonlySet<ChangeOp>;
  readonly changed: readonly string[];
  readonly where: readonly WhereCondition[];
  /** `when.any`: groups of conditions; at least one group must hold (empty: no OR). */
  readonly any: ReadonlyArray<readonly WhereCondition[]>;
  readonly keys: readonly CompiledTemplate[];
  readonly tags: readonly CompiledTemplate[];
  readonly patterns: readonly CompiledTemplate[];
  readonly channels: readonly CompiledTemplate[];
  readonly cdn: readonly CdnTemplate[];
}

export type RuleSkip =
  | { readonly reason: 'changed'; readonly columns: readonly string[] }
  | { readonly reason: 'where'; readonly failure: WhereFailure }
  | { readonly reason: 'any'; readonly failures: readonly WhereFailure[] };

const EMPTY: readonly never[] = Object.freeze([]);

/** One rule of the plan: decides whether an event fires it and renders its actions. */
export class CompiledRule implements IndexedRule {
  readonly name: string;
  readonly tables: readonly TablePattern[];
  readonly ops: ReadonlySet<ChangeOp>;

  constructor(
    private readonly spec: RuleSpec,
    private readonly defaultChannels: readonly string[],
  ) {
    this.name = spec.info.name;
    this.tables = spec.tables;
    this.ops = spec.ops;
  }

  matchesTable(schema: string, table: string): boolean {
    return this.tables.some((p) => p.matches(schema, table));
  }

  /**
   * Why `when` stops this event, or undefined when the rule fires. Truncate carries no
   * rows to judge, so `when` does not apply to it; `changed` applies to updates only.
   * `changed`, `where` and `any` must all hold; inside `any`, one group is enough.
   */
  skip(event: ChangeEvent, rows: EventRows): RuleSkip | undefined {
    if (event.op === 'truncate') return undefined;
    const { changed, where, any } = this.spec;
    if (changed.length > 0 && event.op === 'update' && !anyColumnChanged(changed, rows)) return { reason: 'changed', columns: changed };
    if (where.length > 0) {
      const failure = firstFailingCondition(where, rows);
      if (failure) return { reason: 'where', failure };
    }
    if (any.length > 0) {
      const failures = failuresOfAny(any, rows);
      if (failures) return { reason: 'any', failures };
    }
    return undefined;
  }

  render(rows: EventRows): RuleMatch {
    const missing: MissingValue[] = [];
    const keys = renderList(this.spec.keys, rows, this.name, missing);
    const tags = renderList(this.spec.tags, rows, this.name, missing);
    const patterns = renderList(this.spec.patterns, rows, this.name, missing);
    const cdn = this.spec.cdn.length === 0 ? EMPTY : this.renderCdn(rows, missing);
    // L1 caches only hear about keys, tags and patterns; with none there is nothing to say.
    let channels: readonly string[] = EMPTY;
    if (keys.length + tags.length + patterns.length > 0) {
      channels = this.spec.channels.length > 0 ? renderList(this.spec.channels, rows, this.name, missing) : this.defaultChannels;
      // Rule channels that render to nothing must not silence L1: fall back to the defaults.
      if (channels.length === 0) channels = this.defaultChannels;
    }
    return { rule: this.name, keys, tags, patterns, channels, cdn, missing: missing.length > 0 ? missing : EMPTY };
  }

  private renderCdn(rows: EventRows, missing: MissingValue[]): CdnPurge[] {
    const out: CdnPurge[] = [];
    for (const c of this.spec.cdn) {
      const value = renderTemplate(c.template, rows, this.name, missing);
      if (value === undefined) continue;
      out.push(
        c.headers
          ? { provider: c.provider, target: c.target, kind: c.kind, value, headers: c.headers }
          : { provider: c.provider, target: c.target, kind: c.kind, value },
      );
    }
    return out;
  }
}

function renderList(templates: readonly CompiledTemplate[], rows: EventRows, rule: string, missing: MissingValue[]): readonly string[] {
  if (templates.length === 0) return EMPTY;
  const out: string[] = [];
  for (const t of templates) {
    const value = renderTemplate(t, rows, rule, missing);
    // Lists are short; `includes` beats a Set here and keeps one match free of repeats.
    if (value !== undefined && !out.includes(value)) out.push(value);
  }
  return out;
}
