import { isDeepStrictEqual } from 'node:util';
import { UNKNOWN } from '@cdc/core';
import { ColumnRef } from './column-ref';
import { EventRows, NO_SIDE, SIDE_NOT_LOGGED, isValue } from './event-rows';
import { formatValue } from './value-format';

export const WHERE_OPS = ['eq', 'ne', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'is_null', 'exists'] as const;
export type WhereOp = (typeof WHERE_OPS)[number];
type Scalar = string | number | boolean | null;

/** One `where` entry: a column reference and its operators, all of which must hold. */
export interface WhereCondition {
  readonly ref: ColumnRef;
  /** The key as written, e.g. `after.status`. */
  readonly text: string;
  readonly tests: ReadonlyArray<{ readonly op: WhereOp; readonly operand: unknown }>;
}

export interface WhereFailure {
  readonly condition: WhereCondition;
  readonly op: WhereOp;
  readonly operand: unknown;
  /** The value the event had (NO_SIDE when the row side does not exist). */
  readonly value: unknown;
}

/**
 * First condition that does not hold, or undefined when all hold. A value the event
 * cannot supply (UNKNOWN, side not logged) cannot be decided: it counts as holding, so
 * the rule fires (an extra invalidation is harmless, a missed one is not). A side that
 * does not exist (before of an insert) holds nothing but `exists: false`.
 */
export function firstFailingCondition(conditions: readonly WhereCondition[], rows: EventRows): WhereFailure | undefined {
  for (const condition of conditions) {
    const { side, column } = condition.ref;
    for (const { op, operand } of condition.tests) {
      if (op === 'exists') {
        const has = rows.has(side, column);
        if (has !== undefined && has !== operand) return { condition, op, operand, value: has };
        continue;
      }
      const value = rows.get(side, column);
      if (value === UNKNOWN || value === SIDE_NOT_LOGGED) continue;
      if (value === NO_SIDE || !holds(op, operand, value)) return { condition, op, operand, value };
    }
  }
  return undefined;
}

/**
 * `when.any`: undefined when at least one group holds (each group is a where-map, all of
 * its conditions must hold), else each group's first failure, in order.
 */
export function failuresOfAny(groups: ReadonlyArray<readonly WhereCondition[]>, rows: EventRows): WhereFailure[] | undefined {
  // First pass allocates nothing: the hot path only needs the answer.
  for (const group of groups) if (firstFailingCondition(group, rows) === undefined) return undefined;
  return groups.map((group) => firstFailingCondition(group, rows)!);
}

function holds(op: WhereOp, operand: unknown, value: unknown): boolean {
  switch (op) {
    case 'eq':
      return scalarEquals(value, operand as Scalar);
    case 'ne':
      return !scalarEquals(value, operand as Scalar);
    case 'in':
      return (operand as Scalar[]).some((x) => scalarEquals(value, x));
    case 'not_in':
      return !(operand as Scalar[]).some((x) => scalarEquals(value, x));
    case 'is_null':
      return (value === null) === operand;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const order = compare(value, operand as string | number);
      if (order === undefined) return false;
      return op === 'gt' ? order > 0 : op === 'gte' ? order >= 0 : op === 'lt' ? order < 0 : order <= 0;
    }
    default:
      return false;
  }
}

/**
 * Equality between a row value and a YAML scalar. Numbers compare numerically (int8 and
 * numeric arrive as strings: `eq: 5` matches '5' and '5.0'); strings compare with the
 * value's text form (timestamps, uuids, numbers); null only equals SQL NULL.
 */
export function scalarEquals(value: unknown, operand: Scalar): boolean {
  if (operand === null || value === null) return value === operand;
  if (typeof operand === 'number') {
    const n = toNumber(value);
    return n !== undefined && n === operand;
  }
  if (typeof operand === 'boolean') return value === operand || formatValue(value) === String(operand);
  return value === operand || formatValue(value) === operand;
}

/** Ordering for gt/gte/lt/lte: numeric against a number operand, text order against a string (ISO timestamps sort). */
function compare(value: unknown, operand: string | number): number | undefined {
  if (value === null) return undefined;
  if (typeof operand === 'number') {
    const n = toNumber(value);
    return n === undefined ? undefined : n - operand;
  }
  const s = formatValue(value);
  return s < operand ? -1 : s > operand ? 1 : 0;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

/**
 * `when.changed` for an update: true when any listed column changed, or may have
 * (UNKNOWN or a missing old row on either side counts as maybe changed).
 */
export function anyColumnChanged(columns: readonly string[], rows: EventRows): boolean {
  for (const column of columns) {
    const before = rows.get('before', column);
    const after = rows.get('after', column);
    if (!isValue(before) || !isValue(after)) return true;
    if (before !== after && !isDeepStrictEqual(before, after)) return true;
  }
  return false;
}
