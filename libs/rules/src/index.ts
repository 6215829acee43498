export { DEFAULT_RULES_MAX_BYTES, RulesLoadOptions, checkRulesSize, compileRules, loadRulesFile } from './load';
export { DEFAULT_MIN_PATTERN_PREFIX } from './pattern-floor';
export { explain } from './explain';
export { parseEventJson } from './event-json';
export { CompiledRules, ExplainResult, RuleErrorHandler, RuleColumn, RuleExplanation, RuleInfo, SkipReason } from './types';
export { RowSide } from './event-rows';
export { DEFAULT_CHANNELS, RULE_OPS } from './rule-compiler';
export { globEscape, urlSegmentEncode } from './escaping';
export { formatValue } from './value-format';
