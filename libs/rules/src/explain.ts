import { ChangeEvent, qualifiedName } from '@cdc/core';
import { CompiledRule, RuleSkip } from './compiled-rule';
import { WhereFailure } from './conditions';
import { EventRows, NO_SIDE } from './event-rows';
import { RulePlan } from './rule-plan';
import { toJson } from './value-format';
import { CompiledRules, ExplainResult, RuleExplanation } from './types';

/**
 * Which rules an event fires and, for every other rule, the first reason it was skipped
 * (table, op, when.changed, where, any), with the RuleMatch each fired rule produces. Uses
 * the same decisions as evaluate(); `matches` is exactly evaluate()'s result.
 */
export function explain(rules: CompiledRules, event: ChangeEvent): ExplainResult {
  if (!(rules instanceof RulePlan)) throw new TypeError('explain() needs rules returned by compileRules() or loadRulesFile()');
  const table = event.op === 'message' ? '' : qualifiedName(event);
  const matches = rules.evaluate(event);
  if (event.op === 'message') {
    const explained: RuleExplanation[] = matches.map((match) => ({ rule: match.rule, matched: true, match }));
    return { event: { op: event.op, table }, rules: explained, matches };
  }
  const rows = new EventRows(event);
  const explained = rules.compiled.map((rule) => explainRule(rule, event, rows));
  return { event: { op: event.op, table }, rules: explained, matches };
}

function explainRule(rule: CompiledRule, event: ChangeEvent, rows: EventRows): RuleExplanation {
  if (!rule.matchesTable(event.schema, event.table)) {
    return { rule: rule.name, matched: false, skipped: 'table', detail: `${qualifiedName(event)} is not one of ${rule.tables.map((t) => t.text).join(', ')}` };
  }
  if (!rule.ops.has(event.op)) {
    return { rule: rule.name, matched: false, skipped: 'op', detail: `fires on ${[...rule.ops].join(', ')}, not ${event.op}` };
  }
  const skip = rule.skip(event, rows);
  if (skip) return { rule: rule.name, matched: false, skipped: skip.reason, detail: describeSkip(skip) };
  return { rule: rule.name, matched: true, match: rule.render(rows) };
}

function describeSkip(skip: RuleSkip): string {
  if (skip.reason === 'changed') return `none of ${skip.columns.join(', ')} changed`;
  if (skip.reason === 'any') return `no item of when.any holds: ${skip.failures.map(describeWhereFailure).join('; ')}`;
  return describeWhereFailure(skip.failure);
}

function describeWhereFailure(f: WhereFailure): string {
  const operand = toJson(f.operand);
  if (f.value === NO_SIDE) return `${f.condition.text} ${f.op} ${operand}: this event has no such row side`;
  if (f.op === 'exists') return `${f.condition.text} exists is ${String(f.value)}, not ${operand}`;
  return `${f.condition.text} ${f.op} ${operand} does not hold (value ${toJson(f.value)})`;
}
