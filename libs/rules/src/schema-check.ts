import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { WHERE_OPS } from './conditions';
import { ProblemLog } from './problem-log';
import { RULES_SCHEMA } from './rules-schema';
import { DocPath, YamlSource } from './yaml-source';

let validator: ValidateFunction | undefined;

function compiledSchema(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(RULES_SCHEMA);
  return validator;
}

/** Structural validation; each ajv error becomes a located, readable problem. Returns false when invalid. */
export function checkSchema(source: YamlSource, problems: ProblemLog): boolean {
  const validate = compiledSchema();
  if (validate(source.value)) return true;
  for (const error of validate.errors ?? []) reportSchemaError(error, source, problems);
  return false;
}

function reportSchemaError(error: ErrorObject, source: YamlSource, problems: ProblemLog): void {
  const path = instancePath(error.instancePath);
  const where = describePath(path, source.value);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
      const hint = closest(key, allowed);
      problems.error(
        source.keyAt([...path, key]),
        `unknown key '${key}' in ${where}${hint ? ` (did you mean '${hint}'?)` : ''}; allowed keys: ${allowed.join(', ')}`,
      );
      return;
    }
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      problems.error(path.length === 0 ? source.at([]) : source.at(path), `${where}: missing required key '${key}'`);
      return;
    }
    case 'type': {
      const expected = ([] as string[]).concat((error.params as { type: string | string[] }).type);
      if (path.length === 0) {
        problems.error(source.at(path), `the rules file must be a mapping with 'version' and 'rules' keys, got ${typeName(error.data)}`);
        return;
      }
      problems.error(source.at(path), `${where}: expected ${expected.map(expectedName).join(' or ')}, got ${typeName(error.data)}`);
      return;
    }
    case 'const':
      problems.error(source.at(path), `${where}: unsupported value ${JSON.stringify(error.data)}; expected ${JSON.stringify(error.schema)}`);
      return;
    case 'minItems':
      problems.error(source.at(path), `${where}: must not be an empty list`);
      return;
    case 'minLength':
      problems.error(source.at(path), `${where}: must not be empty`);
      return;
    case 'minProperties':
      if (path[path.length - 2] === 'any') {
        problems.error(source.at(path), `${where}: give at least one condition, e.g. after.status: { eq: published }`);
        return;
      }
      problems.error(source.at(path), `${where}: give at least one operator (${WHERE_OPS.join(', ')})`);
      return;
    default:
      problems.error(source.at(path), `${where}: ${error.message ?? 'invalid value'}`);
  }
}

function instancePath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `rule 'product-page' invalidate.keys[2]` when inside a named rule, else the dotted path. */
export function describePath(path: DocPath, doc: unknown): string {
  if (path.length === 0) return 'the document';
  let prefix = '';
  let rest = path;
  if (path[0] === 'rules' && path.length >= 2) {
    const rule = (doc as { rules?: unknown[] })?.rules?.[Number(path[1])] as { name?: unknown } | undefined;
    prefix = typeof rule?.name === 'string' ? `rule '${rule.name}'` : `rules[${path[1]}]`;
    rest = path.slice(2);
  }
  let text = '';
  for (const segment of rest) {
    if (/^\d+$/.test(String(segment))) text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${segment}`;
  }
  return [prefix, text].filter(Boolean).join(' ');
}

function expectedName(type: string): string {
  switch (type) {
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'integer':
      return 'an integer';
    default:
      return `a ${type}`;
  }
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** The allowed key nearest to a misspelt one (edit distance ≤ 2), for a "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
