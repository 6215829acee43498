import { ChangeOp } from '@cdc/core';
import {
  checkCdnAlias,
  checkCloudFrontPath,
  checkCloudflareFileUrl,
  checkCloudflareHost,
  checkCloudflarePrefix,
  checkHeaderName,
  isCloudFrontWildcard,
} from './cdn-checks';
import { describeRef, parseColumnRef } from './column-ref';
import { CdnTemplate, RuleSpec } from './compiled-rule';
import { WHERE_OPS, WhereCondition, WhereOp } from './conditions';
import { ValueEncoder, globEscape, urlSegmentEncode } from './escaping';
import { RowSide } from './event-rows';
import { ProblemLog } from './problem-log';
import { DEFAULT_MIN_PATTERN_PREFIX, checkPatternFloor } from './pattern-floor';
import { BindOptions, CompiledTemplate, bindTemplate } from './render';
import { describePath } from './schema-check';
import { TablePattern } from './table-pattern';
import { ParsedTemplate, parseTemplate } from './template';
import { RuleColumn } from './types';
import { DocPath, YamlSource } from './yaml-source';

export const RULE_OPS: readonly ChangeOp[] = ['insert', 'update', 'delete', 'truncate', 'snapshot'];
export const DEFAULT_CHANNELS: readonly string[] = ['cache-invalidation'];

/** Which ops give a row on each side: a placeholder on another side can never have a value. */
const SIDE_OPS: Record<RowSide, readonly ChangeOp[]> = {
  before: ['update', 'delete'],
  after: ['insert', 'update', 'snapshot'],
  current: ['insert', 'update', 'delete', 'snapshot'],
};

export interface CompiledDocument {
  readonly defaultChannels: readonly string[];
  readonly specs: readonly RuleSpec[];
}

type Obj = Record<string, unknown>;
type TemplateCheck = (t: ParsedTemplate) => string | undefined;
type BindFor = (t: ParsedTemplate) => BindOptions;
/** Where an empty value would widen the purge: patterns, Cloudflare prefixes (CloudFront wildcards decide per path). */
const REFUSE_EMPTY: BindFor = () => ({ refuseEmpty: true });
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Turns the (structurally checked) document into rule specs: parses every template
 * once, checks meaning (op names, table names, sides, CDN URL shapes, duplicates) and
 * reports each problem at its position. Written defensively: the document may still
 * hold wrong types that the schema check already reported; those parts are skipped.
 */
export class RuleCompiler {
  private columns: RuleColumn[] = [];
  private ops: ReadonlySet<ChangeOp> = new Set();
  private ruleName = '';

  private readonly minPatternPrefix: number;

  constructor(
    private readonly source: YamlSource,
    private readonly problems: ProblemLog,
    options: { readonly minPatternPrefix?: number } = {},
  ) {
    this.minPatternPrefix = options.minPatternPrefix ?? DEFAULT_MIN_PATTERN_PREFIX;
  }

  compile(): CompiledDocument {
    const doc = isObj(this.source.value) ? this.source.value : {};
    const defaultChannels = this.defaultChannels(doc);
    const specs: RuleSpec[] = [];
    const firstByName = new Map<string, number>();
    const rules = Array.isArray(doc.rules) ? doc.rules : [];
    rules.forEach((raw, index) => {
      if (!isObj(raw)) return;
      const path = ['rules', index];
      if (typeof raw.name === 'string') {
        const first = firstByName.get(raw.name);
        if (first !== undefined) {
          this.problems.error(this.source.at([...path, 'name']), `duplicate rule name '${raw.name}' (first used at line ${this.source.at(['rules', first, 'name']).line}); rule names must be unique`);
        } else firstByName.set(raw.name, index);
      }
      const spec = this.rule(raw, path);
      if (spec) specs.push(spec);
    });
    return { defaultChannels, specs };
  }

  private defaultChannels(doc: Obj): readonly string[] {
    const defaults = isObj(doc.defaults) ? doc.defaults : {};
    if (!Array.isArray(defaults.channels)) return DEFAULT_CHANNELS;
    const out: string[] = [];
    defaults.channels.forEach((text, i) => {
      if (typeof text !== 'string') return;
      const path = ['defaults', 'channels', i];
      const parsed = this.parse(path, text);
      if (parsed && parsed.placeholders.length > 0) {
        this.problems.error(this.source.at(path), `default channel '${text}' must be static: default channels also serve explicit messages, which have no row`);
      } else if (parsed) out.push(parsed.parts.join(''));
    });
    return out;
  }

  private rule(raw: Obj, path: DocPath): RuleSpec | undefined {
    this.ruleName = typeof raw.name === 'string' ? raw.name : `rules[${path[1]}]`;
    this.columns = [];
    const errorsBefore = this.problems.errorCount;
    const tables = this.tables(raw, path);
    this.ops = this.opsOf(raw, path);
    const when = isObj(raw.when) ? raw.when : {};
    const changed = this.changed(when, [...path, 'when']);
    const whereColumns: RuleColumn[] = [];
    const where = isObj(when.where) ? this.conditions(when.where, [...path, 'when', 'where'], whereColumns, 'where') : [];
    const any = this.any(when.any, [...path, 'when', 'any'], whereColumns);
    const invalidate = isObj(raw.invalidate) ? raw.invalidate : undefined;
    const ipath = [...path, 'invalidate'];
    const keys = this.templates(invalidate?.keys, [...ipath, 'keys'], null);
    const tags = this.templates(invalidate?.tags, [...ipath, 'tags'], null);
    const floor = (t: ParsedTemplate) => checkPatternFloor(t, this.minPatternPrefix);
    const patterns = this.templates(invalidate?.patterns, [...ipath, 'patterns'], globEscape, floor, REFUSE_EMPTY);
    const channels = this.templates(invalidate?.channels, [...ipath, 'channels'], null);
    const cdn = this.cdn(invalidate?.cdn, [...ipath, 'cdn']);
    if (invalidate && !this.invalidatesSomething(invalidate)) {
      this.problems.error(this.source.keyAt(ipath), `rule '${this.ruleName}' invalidates nothing; give at least one of keys, tags, patterns or cdn`);
    }
    if (this.problems.errorCount > errorsBefore || typeof raw.name !== 'string' || !invalidate) return undefined;
    return {
      info: {
        name: raw.name,
        ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
        tables: tables.map((t) => t.text),
        ops: RULE_OPS.filter((op) => this.ops.has(op)),
        location: this.source.at(path),
        columns: this.columns,
        changedColumns: changed,
        whereColumns,
      },
      tables,
      ops: this.ops,
      changed,
      where,
      any,
      keys,
      tags,
      patterns,
      channels,
      cdn,
    };
  }

  private tables(raw: Obj, path: DocPath): TablePattern[] {
    const entries: Array<{ text: string; path: DocPath }> = [];
    if (raw.table !== undefined && raw.tables !== undefined) {
      this.problems.error(this.source.keyAt([...path, 'tables']), `rule '${this.ruleName}' has both 'table' and 'tables'; give one of them`);
    } else if (raw.table === undefined && raw.tables === undefined) {
      this.problems.error(this.source.at(path), `rule '${this.ruleName}' names no table; expected 'table: schema.table' or 'tables: [..]'`);
    }
    if (typeof raw.table === 'string') entries.push({ text: raw.table, path: [...path, 'table'] });
    if (Array.isArray(raw.tables)) {
      raw.tables.forEach((t, i) => typeof t === 'string' && entries.push({ text: t, path: [...path, 'tables', i] }));
    }
    const out: TablePattern[] = [];
    for (const entry of entries) {
      const pattern = TablePattern.parse(entry.text);
      if ('error' in pattern) this.problems.error(this.source.at(entry.path), pattern.error);
      else out.push(pattern);
    }
    return out;
  }

  private opsOf(raw: Obj, path: DocPath): ReadonlySet<ChangeOp> {
    if (raw.on === undefined) return new Set(RULE_OPS);
    const items: Array<{ op: unknown; path: DocPath }> = Array.isArray(raw.on)
      ? raw.on.map((op, i) => ({ op, path: [...path, 'on', i] }))
      : [{ op: raw.on, path: [...path, 'on'] }];
    const ops = new Set<ChangeOp>();
    for (const { op, path: at } of items) {
      if (typeof op !== 'string') continue;
      if ((RULE_OPS as readonly string[]).includes(op)) ops.add(op as ChangeOp);
      else this.problems.error(this.source.at(at), `unknown op '${op}'; expected one of ${RULE_OPS.join(', ')}`);
    }
    return ops;
  }

  private changed(when: Obj, path: DocPath): string[] {
    const raw = when.changed;
    const list = typeof raw === 'string' ? [raw] : strings(raw);
    const at = Array.isArray(raw) ? (i: number) => [...path, 'changed', i] : () => [...path, 'changed'];
    const out: string[] = [];
    list.forEach((column, i) => {
      const ref = parseColumnRef(column);
      if ('error' in ref || ref.side !== 'current') {
        this.problems.error(this.source.at(at(i)), `when.changed lists plain column names (compared before vs after); got '${column}'`);
      } else out.push(ref.column);
    });
    if (out.length > 0 && !this.ops.has('update')) {
      this.problems.warning(this.source.keyAt([...path, 'changed']), `when.changed applies to updates only, and rule '${this.ruleName}' does not fire on update: it has no effect`);
    }
    return out;
  }

  /** One where-map (column reference → operators), parsed once; its columns are added to `columns`. */
  private conditions(map: Obj, path: DocPath, columns: RuleColumn[], label: string): WhereCondition[] {
    const out: WhereCondition[] = [];
    for (const [key, operators] of Object.entries(map)) {
      const at = this.source.keyAt([...path, key]);
      const ref = parseColumnRef(key);
      if ('error' in ref) {
        this.problems.error(at, `${label} key '${key}': ${ref.error}`);
        continue;
      }
      if (!isObj(operators)) continue;
      const tests: Array<{ op: WhereOp; operand: unknown }> = [];
      for (const op of WHERE_OPS) if (op in operators) tests.push({ op, operand: operators[op] });
      if (tests.length === 0) continue;
      this.warnIfSideNeverPresent(ref.side, key, at);
      out.push({ ref, text: describeRef(ref), tests });
      columns.push({ column: ref.column, side: ref.side, template: key, location: at });
    }
    return out;
  }

  /** `when.any`: a list of where-maps, at least one of which must hold. The schema already refused an empty list or item. */
  private any(raw: unknown, path: DocPath, columns: RuleColumn[]): WhereCondition[][] {
    if (!Array.isArray(raw)) return [];
    const groups: WhereCondition[][] = [];
    raw.forEach((item, i) => {
      if (!isObj(item)) return;
      const group = this.conditions(item, [...path, i], columns, `when.any[${i}]`);
      if (group.length > 0) groups.push(group);
    });
    return groups;
  }

  private templates(raw: unknown, path: DocPath, encode: ValueEncoder | null, check?: TemplateCheck, bind?: BindFor): CompiledTemplate[] {
    if (!Array.isArray(raw)) return [];
    const out: CompiledTemplate[] = [];
    raw.forEach((text, i) => {
      if (typeof text !== 'string') return;
      const t = this.template([...path, i], text, encode, check, bind);
      if (t) out.push(t);
    });
    return out;
  }

  private template(path: DocPath, text: string, encode: ValueEncoder | null, check?: TemplateCheck, bind?: BindFor): CompiledTemplate | undefined {
    const parsed = this.parse(path, text);
    if (!parsed) return undefined;
    const problem = check?.(parsed);
    if (problem) {
      this.problems.error(this.source.at(path), problem);
      return undefined;
    }
    for (const p of parsed.placeholders) {
      const location = this.source.inString(path, p.offset);
      this.columns.push({ column: p.column, side: p.side, template: text, location });
      this.warnIfSideNeverPresent(p.side, p.text, location);
    }
    return bindTemplate(parsed, encode, bind?.(parsed));
  }

  private parse(path: DocPath, text: string): ParsedTemplate | undefined {
    const { template, problems } = parseTemplate(text);
    for (const p of problems) this.problems.error(this.source.inString(path, p.offset), `${describePath(path, this.source.value)}: ${p.message}`);
    return problems.length === 0 ? template : undefined;
  }

  private cdn(raw: unknown, path: DocPath): CdnTemplate[] {
    if (!isObj(raw)) return [];
    const out: CdnTemplate[] = [];
    const cf = raw.cloudflare;
    if (isObj(cf) && typeof cf.zone === 'string') {
      const base = [...path, 'cloudflare'];
      const zone = cf.zone;
      this.alias('zone', zone, [...base, 'zone']);
      if (![cf.files, cf.tags, cf.hosts, cf.prefixes].some((l) => Array.isArray(l) && l.length > 0)) {
        this.problems.error(this.source.keyAt(base), `cloudflare purges nothing; give at least one of files, tags, hosts or prefixes`);
      }
      if (Array.isArray(cf.files)) {
        cf.files.forEach((entry, i) => {
          const url = typeof entry === 'string' ? entry : isObj(entry) && typeof entry.url === 'string' ? entry.url : undefined;
          if (url === undefined) return;
          const at = typeof entry === 'string' ? [...base, 'files', i] : [...base, 'files', i, 'url'];
          const headers = isObj(entry) && isObj(entry.headers) ? this.headers(entry.headers, [...base, 'files', i, 'headers']) : undefined;
          const t = this.template(at, url, urlSegmentEncode, checkCloudflareFileUrl);
          if (t) out.push({ provider: 'cloudflare', target: zone, kind: 'files', template: t, ...(headers ? { headers } : {}) });
        });
      }
      for (const t of this.templates(cf.tags, [...base, 'tags'], null)) out.push({ provider: 'cloudflare', target: zone, kind: 'tags', template: t });
      for (const t of this.templates(cf.hosts, [...base, 'hosts'], null, checkCloudflareHost)) out.push({ provider: 'cloudflare', target: zone, kind: 'hosts', template: t });
      for (const t of this.templates(cf.prefixes, [...base, 'prefixes'], urlSegmentEncode, checkCloudflarePrefix, REFUSE_EMPTY)) {
        out.push({ provider: 'cloudflare', target: zone, kind: 'prefixes', template: t });
      }
    }
    const cfr = raw.cloudfront;
    if (isObj(cfr) && typeof cfr.distribution === 'string') {
      const base = [...path, 'cloudfront'];
      const distribution = cfr.distribution;
      this.alias('distribution', distribution, [...base, 'distribution']);
      const wildcardsRefuseEmpty: BindFor = (t) => ({ refuseEmpty: isCloudFrontWildcard(t) });
      for (const t of this.templates(cfr.paths, [...base, 'paths'], urlSegmentEncode, checkCloudFrontPath, wildcardsRefuseEmpty)) {
        out.push({ provider: 'cloudfront', target: distribution, kind: 'paths', template: t });
      }
    }
    return out;
  }

  private alias(kind: 'zone' | 'distribution', alias: string, path: DocPath): void {
    const problem = checkCdnAlias(kind, alias);
    if (problem) this.problems.error(this.source.at(path), problem);
  }

  private headers(raw: Obj, path: DocPath): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
      const problem = checkHeaderName(name);
      if (problem) this.problems.error(this.source.keyAt([...path, name]), problem);
      else if (typeof value === 'string') out[name] = value;
    }
    return Object.keys(out).length > 0 ? Object.freeze(out) : undefined;
  }

  private invalidatesSomething(invalidate: Obj): boolean {
    const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;
    if (nonEmpty(invalidate.keys) || nonEmpty(invalidate.tags) || nonEmpty(invalidate.patterns)) return true;
    const cdn = isObj(invalidate.cdn) ? invalidate.cdn : {};
    return isObj(cdn.cloudflare) || isObj(cdn.cloudfront);
  }

  private warnIfSideNeverPresent(side: RowSide, what: string, at: { file: string; line: number; column: number }): void {
    if (this.ops.size === 0 || SIDE_OPS[side].some((op) => this.ops.has(op))) return;
    const ops = RULE_OPS.filter((op) => this.ops.has(op)).join(', ');
    const row = side === 'before' ? 'old row' : side === 'after' ? 'new row' : 'row';
    this.problems.warning(at, `'${what}' never has a value: rule '${this.ruleName}' fires only on ${ops}, where there is no ${row}`);
  }
}
