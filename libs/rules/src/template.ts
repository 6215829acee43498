import { ColumnRef, parseColumnRef } from './column-ref';
import { FILTER_NAMES, TemplateFilter, findFilter } from './filters';

/** `{ref|filter|...}` inside a template, parsed once at load. */
export interface Placeholder extends ColumnRef {
  /** The placeholder as written, braces included, e.g. `{after.slug|lower}`. */
  readonly text: string;
  /** Offset of its `{` in the template string, for error positions. */
  readonly offset: number;
  readonly filters: readonly TemplateFilter[];
}

/** A template pre-split into static text and placeholders: rendering is string building only. */
export interface ParsedTemplate {
  readonly source: string;
  readonly parts: ReadonlyArray<string | Placeholder>;
  readonly placeholders: readonly Placeholder[];
}

export interface TemplateProblem {
  /** Offset in the template string. */
  readonly offset: number;
  readonly message: string;
}

/**
 * Parses a template. `{{` and `}}` stand for literal braces. Returns every problem
 * found (unclosed brace, empty placeholder, unknown side or filter, stray `}`).
 */
export function parseTemplate(source: string): { template: ParsedTemplate; problems: TemplateProblem[] } {
  const parts: Array<string | Placeholder> = [];
  const placeholders: Placeholder[] = [];
  const problems: TemplateProblem[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '}') {
      if (source[i + 1] === '}') {
        literal += '}';
        i += 2;
        continue;
      }
      problems.push({ offset: i, message: `unmatched '}' in template '${source}'; write '}}' for a literal brace` });
      i++;
      continue;
    }
    if (c !== '{') {
      literal += c;
      i++;
      continue;
    }
    if (source[i + 1] === '{') {
      literal += '{';
      i += 2;
      continue;
    }
    const close = source.indexOf('}', i + 1);
    const nextOpen = source.indexOf('{', i + 1);
    if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
      problems.push({ offset: i, message: `unclosed '{' in template '${source}'; expected '}' to end the placeholder` });
      literal += c;
      i++;
      continue;
    }
    const placeholder = parsePlaceholder(source.slice(i, close + 1), i, problems);
    if (placeholder) {
      if (literal) parts.push(literal);
      literal = '';
      parts.push(placeholder);
      placeholders.push(placeholder);
    }
    i = close + 1;
  }
  if (literal) parts.push(literal);
  return { template: { source, parts, placeholders }, problems };
}

function parsePlaceholder(text: string, offset: number, problems: TemplateProblem[]): Placeholder | undefined {
  const inner = text.slice(1, -1);
  if (inner.trim() === '') {
    problems.push({ offset, message: `empty placeholder '${text}'; expected {column}, {before.column} or {after.column}` });
    return undefined;
  }
  const [refText, ...filterNames] = inner.split('|');
  const ref = parseColumnRef(refText);
  let ok = true;
  if ('error' in ref) {
    problems.push({ offset, message: `bad placeholder '${text}': ${ref.error}` });
    ok = false;
  }
  const filters: TemplateFilter[] = [];
  for (const raw of filterNames) {
    const name = raw.trim();
    const filter = findFilter(name);
    if (!filter) {
      problems.push({
        offset,
        message: `${name === '' ? 'empty filter' : `unknown filter '${name}'`} in '${text}'; available filters: ${FILTER_NAMES.join(', ')}`,
      });
      ok = false;
    } else filters.push(filter);
  }
  if (!ok || 'error' in ref) return undefined;
  return { side: ref.side, column: ref.column, text, offset, filters };
}
