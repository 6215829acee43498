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

  /** Lists made of constants only, rendered once here (undefined: the list has placeholders). */
  private readonly constant: Readonly<Record<'keys' | 'tags' | 'patterns' | 'channels', readonly string[] | undefined>>;

  constructor(
    private readonly spec: RuleSpec,
    private readonly defaultChannels: readonly string[],
  ) {
    this.name = spec.info.name;
    this.tables = spec.tables;
    this.ops = spec.ops;
    this.constant = {
      keys: constantList(spec.keys),
      tags: constantList(spec.tags),
      patterns: constantList(spec.patterns),
      channels: constantList(spec.channels),
    };
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
    const spec = this.spec;
    const missing = missingScratch;
    if (missing.length > 0) missing.length = 0; // left over by a render that threw
    const keys = renderList(spec.keys, this.constant.keys, rows, this.name, missing);
    const tags = renderList(spec.tags, this.constant.tags, rows, this.name, missing);
    const patterns = renderList(spec.patterns, this.constant.patterns, rows, this.name, missing);
    const cdn = spec.cdn.length === 0 ? EMPTY : this.renderCdn(rows, missing);
    // L1 caches only hear about keys, tags and patterns; with none there is nothing to say.
    let channels: readonly string[] = EMPTY;
    if (keys.length + tags.length + patterns.length > 0) {
      channels = spec.channels.length > 0 ? renderList(spec.channels, this.constant.channels, rows, this.name, missing) : this.defaultChannels;
      // Rule channels that render to nothing must not silence L1: fall back to the defaults.
      if (channels.length === 0) channels = this.defaultChannels;
    }
    return { rule: this.name, keys, tags, patterns, channels, cdn, missing: takeMissing(missing) };
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

/**
 * Misses of the render in progress. Rendering is synchronous and not re-entrant, so one
 * array serves every render; a match gets its own copy only when something was missing.
 */
const missingScratch: MissingValue[] = [];

function takeMissing(missing: MissingValue[]): readonly MissingValue[] {
  if (missing.length === 0) return EMPTY;
  const out = missing.slice();
  missing.length = 0;
  return out;
}

/** The rendered values of a list of templates, before repeats are dropped. */
const listScratch: string[] = [];

/**
 * Renders a list of templates, repeats dropped. Allocates exactly the array it returns:
 * none for a list of constants (rendered once, at compile time) or an empty result.
 */
function renderList(
  templates: readonly CompiledTemplate[],
  constant: readonly string[] | undefined,
  rows: EventRows,
  rule: string,
  missing: MissingValue[],
): readonly string[] {
  if (constant !== undefined) return constant;
  if (templates.length === 1) {
    const value = renderTemplate(templates[0], rows, rule, missing);
    return value === undefined ? EMPTY : [value];
  }
  const out = listScratch;
  let n = 0;
  for (let i = 0; i < templates.length; i++) {
    const value = renderTemplate(templates[i], rows, rule, missing);
    // Lists are short: a linear search beats a Set here and keeps one match free of repeats.
    if (value !== undefined && !includesFirst(out, n, value)) out[n++] = value;
  }
  return n === 0 ? EMPTY : out.slice(0, n);
}

function includesFirst(values: readonly string[], n: number, value: string): boolean {
  for (let i = 0; i < n; i++) if (values[i] === value) return true;
  return false;
}

/** A list whose templates are all constants renders the same for every event: its value, repeats dropped. */
function constantList(templates: readonly CompiledTemplate[]): readonly string[] | undefined {
  if (templates.length === 0) return EMPTY;
  if (!templates.every((t) => t.constant !== undefined)) return undefined;
  return Object.freeze([...new Set(templates.map((t) => t.constant!))]);
}
