import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { RulesError } from '@cdc/core';
import { ProblemLog } from './problem-log';
import { RuleCompiler } from './rule-compiler';
import { RulePlan } from './rule-plan';
import { checkSchema } from './schema-check';
import { CompiledRules } from './types';
import { YamlSource } from './yaml-source';

export interface RulesLoadOptions {
  /** Largest rules file accepted, in bytes (RULES_MAX_BYTES). Default 512 KiB. */
  readonly maxBytes?: number;
  /** Literal characters every pattern keeps before its first glob character (PATTERN_MIN_PREFIX). Default 3. */
  readonly minPatternPrefix?: number;
}

/**
 * Default of RULES_MAX_BYTES: far above any real rules file (~7,000 rules), and small enough
 * that a reload compiles beside the rules in effect within the image's 256 MB heap. Measured
 * worst case (one template per 6 bytes): ~45 MB retained and ~60 MB transient per 512 KiB.
 */
export const DEFAULT_RULES_MAX_BYTES = 512 * 1024;

/**
 * Compiles rules text into an immutable plan. Throws a RulesError carrying every error
 * (and warning) found, each as `file:line:column`; warnings alone do not throw and are
 * exposed on the result.
 */
export function compileRules(text: string, file: string, options: RulesLoadOptions = {}): CompiledRules {
  checkRulesSize(Buffer.byteLength(text, 'utf8'), file, options);
  const problems = new ProblemLog();
  const { source, problems: yamlProblems } = YamlSource.parse(text, file);
  for (const p of yamlProblems) problems.add(p);
  if (!source) throw new RulesError(problems.sorted());
  checkSchema(source, problems);
  const { defaultChannels, specs } = new RuleCompiler(source, problems, options).compile();
  if (problems.errorCount > 0) throw new RulesError(problems.sorted());
  const hash = createHash('sha256').update(text).digest('hex');
  return new RulePlan(file, hash, problems.sorted('warning'), defaultChannels, specs);
}

/** Reads and compiles a rules file; an unreadable file is a RulesError at 1:1 too, so callers handle one error type. */
export function loadRulesFile(path: string, options: RulesLoadOptions = {}): CompiledRules {
  let text: string;
  try {
    // Size first: a huge file is refused before it is read, let alone parsed.
    checkRulesSize(statSync(path).size, path, options);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof RulesError) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RulesError([{ file: path, line: 1, column: 1, severity: 'error', message: `cannot read the rules file (${reason})` }]);
  }
  return compileRules(text, path, options);
}

/**
 * Refuses a rules file over the size limit with a RulesError at 1:1. Parsing and compiling
 * cost memory in proportion to the text; an oversized file must never reach them.
 */
export function checkRulesSize(bytes: number, file: string, options: RulesLoadOptions = {}): void {
  const max = options.maxBytes ?? DEFAULT_RULES_MAX_BYTES;
  if (bytes <= max) return;
  throw new RulesError([
    { file, line: 1, column: 1, severity: 'error', message: `rules file is ${bytes} bytes, over the limit of ${max} bytes (RULES_MAX_BYTES); split it or raise the limit` },
  ]);
}
