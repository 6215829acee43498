import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RulesError } from '@cdc/core';
import { ProblemLog } from './problem-log';
import { RuleCompiler } from './rule-compiler';
import { RulePlan } from './rule-plan';
import { checkSchema } from './schema-check';
import { CompiledRules } from './types';
import { YamlSource } from './yaml-source';

/**
 * Compiles rules text into an immutable plan. Throws a RulesError carrying every error
 * (and warning) found, each as `file:line:column`; warnings alone do not throw and are
 * exposed on the result.
 */
export function compileRules(text: string, file: string): CompiledRules {
  const problems = new ProblemLog();
  const { source, problems: yamlProblems } = YamlSource.parse(text, file);
  for (const p of yamlProblems) problems.add(p);
  if (!source) throw new RulesError(problems.sorted());
  checkSchema(source, problems);
  const { defaultChannels, specs } = new RuleCompiler(source, problems).compile();
  if (problems.errorCount > 0) throw new RulesError(problems.sorted());
  const hash = createHash('sha256').update(text).digest('hex');
  return new RulePlan(file, hash, problems.sorted('warning'), defaultChannels, specs);
}

/** Reads and compiles a rules file; an unreadable file is a RulesError at 1:1 too, so callers handle one error type. */
export function loadRulesFile(path: string): CompiledRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RulesError([{ file: path, line: 1, column: 1, severity: 'error', message: `cannot read the rules file (${reason})` }]);
  }
  return compileRules(text, path);
}
