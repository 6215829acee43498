import { ALL_COLUMNS, ColumnDemand } from '@cdc/core';
import { RulePlan } from './rule-plan';
import { CompiledRules, RuleInfo } from './types';

/**
 * The columns the rules read, per table: every placeholder of every template (keys, tags,
 * patterns, channels, CDN purges), `when.where` / `when.any` keys and `when.changed`, of
 * each rule whose tables match, on either side (an unchanged-TOAST value in the new row is
 * taken from the old one, so both sides need the same columns). A source decodes these and
 * leaves the rest undecoded.
 *
 * One object per compiled rules (a reload yields a new one, which is how a source notices);
 * answers are cached per table. Rules that are not a RulePlan (another implementation of
 * CompiledRules) cannot say what they read: every column.
 */
const demands = new WeakMap<CompiledRules, ColumnDemand>();
/** A source asks once per message: the last answer short-cuts the WeakMap. */
let last: { readonly rules: CompiledRules; readonly demand: ColumnDemand } | undefined;

export function columnDemand(rules: CompiledRules): ColumnDemand {
  if (last?.rules === rules) return last.demand;
  let demand = demands.get(rules);
  if (!demand) {
    demand = rules instanceof RulePlan ? new RulesColumnDemand(rules) : ALL_COLUMNS;
    demands.set(rules, demand);
  }
  last = { rules, demand };
  return demand;
}

class RulesColumnDemand implements ColumnDemand {
  private readonly byTable = new Map<string, ReadonlySet<string>>();

  constructor(private readonly plan: RulePlan) {}

  columnsOf(schema: string, table: string): ReadonlySet<string> {
    const id = `${schema}\u0000${table}`;
    let columns = this.byTable.get(id);
    if (!columns) {
      const set = new Set<string>();
      this.plan.compiled.forEach((rule, i) => {
        if (rule.matchesTable(schema, table)) addColumnsOf(this.plan.rules[i], set);
      });
      columns = set;
      // Bounded by the tables that reach the source; a schema with very many tables still stays small.
      if (this.byTable.size < 10_000) this.byTable.set(id, columns);
    }
    return columns;
  }
}

function addColumnsOf(info: RuleInfo, into: Set<string>): void {
  for (const c of info.columns) into.add(c.column);
  for (const c of info.whereColumns) into.add(c.column);
  for (const c of info.changedColumns) into.add(c);
}
