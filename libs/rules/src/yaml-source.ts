import { Document, LineCounter, Node, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { LocatedProblem, SourceLocation } from '@cdc/core';

/** A path into the parsed document: map keys and sequence indexes, as in an ajv instancePath. */
export type DocPath = ReadonlyArray<string | number>;

/**
 * The rules file parsed with positions kept, so any path in the plain value can be
 * pointed back at a line and column of the text.
 */
export class YamlSource {
  /** The document as plain JS (objects, arrays, scalars). */
  readonly value: unknown;

  private constructor(
    readonly file: string,
    private readonly text: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {
    this.value = doc.toJS({ maxAliasCount: 1000 });
  }

  /** Parses the text; YAML syntax errors come back as problems (and no source). */
  static parse(text: string, file: string): { source?: YamlSource; problems: LocatedProblem[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const problems: LocatedProblem[] = [];
    const located = (offset: number, message: string, severity: 'error' | 'warning'): LocatedProblem => {
      const { line, col } = lines.linePos(offset);
      return { file, line, column: col, message, severity };
    };
    for (const e of doc.errors) problems.push(located(e.pos[0], `invalid YAML: ${e.message}`, 'error'));
    for (const w of doc.warnings) problems.push(located(w.pos[0], `YAML: ${w.message}`, 'warning'));
    if (doc.errors.length > 0) return { problems };
    try {
      return { source: new YamlSource(file, text, doc, lines), problems };
    } catch (err) {
      // toJS can still refuse (e.g. an alias bomb past maxAliasCount).
      problems.push(located(0, `invalid YAML: ${(err as Error).message}`, 'error'));
      return { problems };
    }
  }

  /** Where the value at `path` starts (the deepest existing node along it). */
  at(path: DocPath): SourceLocation {
    const { node, key } = this.find(path);
    return this.locate(startOf(node) ?? startOf(key) ?? 0);
  }

  /** Where the key of the last map entry on `path` is written (for unknown-key and key-level messages). */
  keyAt(path: DocPath): SourceLocation {
    const { node, key } = this.find(path);
    return this.locate(startOf(key) ?? startOf(node) ?? 0);
  }

  /** A character inside a string value; exact when the scalar is written without escapes or folding. */
  inString(path: DocPath, offset: number): SourceLocation {
    const { node, key } = this.find(path);
    if (isScalar(node) && node.range && typeof node.value === 'string') {
      const [start, end] = node.range;
      if (node.type === 'PLAIN' && this.text.slice(start, end) === node.value) return this.locate(start + offset);
      if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && this.text.slice(start + 1, end - 1) === node.value) {
        return this.locate(start + 1 + offset);
      }
    }
    return this.locate(startOf(node) ?? startOf(key) ?? 0);
  }

  private locate(offset: number): SourceLocation {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  private find(path: DocPath): { node: unknown; key: unknown } {
    let node: unknown = this.doc.contents;
    let key: unknown;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
        if (!pair) break;
        key = pair.key;
        // `key:` with nothing after it has a null value node without a useful range: point at the key.
        node = isScalar(pair.value) && pair.value.source === '' ? undefined : pair.value;
        if (node === undefined) break;
      } else if (isSeq(node)) {
        const item = node.items[Number(segment)];
        if (item === undefined) break;
        key = undefined;
        node = item;
      } else break;
    }
    return { node, key };
  }
}

function startOf(node: unknown): number | undefined {
  return node && (node as Node).range ? (node as Node).range![0] : undefined;
}
