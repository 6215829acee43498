import { RowSide } from './event-rows';

export interface ColumnRef {
  readonly side: RowSide;
  readonly column: string;
}

/**
 * Parses `col`, `before.col` or `after.col`. Anything else with a dot names an unknown
 * side (so `{middle.x}` is an error, not a column called "middle.x").
 */
export function parseColumnRef(text: string): ColumnRef | { error: string } {
  const ref = text.trim();
  if (ref === '') return { error: 'empty column name' };
  const dot = ref.indexOf('.');
  if (dot < 0) return { side: 'current', column: ref };
  const side = ref.slice(0, dot);
  const column = ref.slice(dot + 1).trim();
  if (side !== 'before' && side !== 'after') {
    return { error: `unknown side '${side}' in '${ref}'; expected column, before.column or after.column` };
  }
  if (column === '') return { error: `'${ref}' names no column; expected ${side}.column` };
  return { side, column };
}

export function describeRef(ref: ColumnRef): string {
  return ref.side === 'current' ? ref.column : `${ref.side}.${ref.column}`;
}
