import { ChangeEvent, Row, UNKNOWN } from '@cdc/core';

/** Which row a column reference reads: `{col}` is `current`, `{before.col}` / `{after.col}` name a side. */
export type RowSide = 'current' | 'before' | 'after';

/** The side does not exist for this op (an insert has no before): silently no value. */
export const NO_SIDE: unique symbol = Symbol('cdc.rules.no-side');
/** The side exists but the source did not log it (update without an old tuple): a counted miss. */
export const SIDE_NOT_LOGGED: unique symbol = Symbol('cdc.rules.side-not-logged');

const enum SideState {
  Present,
  Absent,
  NotLogged,
}

/**
 * Read access to one event's rows with the side semantics of the rules language, built
 * once per event. A column missing from a row that exists is treated like UNKNOWN: the
 * source could not supply it, so a rule that needs it reports a miss instead of guessing.
 */
export class EventRows {
  private readonly beforeRow: Row | undefined;
  private readonly afterRow: Row | undefined;
  private readonly beforeState: SideState;
  private readonly afterState: SideState;
  private readonly currentSide: 'before' | 'after' | undefined;
  private readonly keyColumns: readonly string[] | undefined;

  constructor(event: ChangeEvent) {
    this.beforeRow = event.before;
    this.afterRow = event.after;
    this.keyColumns = event.keyColumns;
    switch (event.op) {
      case 'insert':
      case 'snapshot':
        this.beforeState = SideState.Absent;
        this.afterState = event.after ? SideState.Present : SideState.NotLogged;
        this.currentSide = 'after';
        break;
      case 'update':
        this.beforeState = event.before ? SideState.Present : SideState.NotLogged;
        this.afterState = event.after ? SideState.Present : SideState.NotLogged;
        this.currentSide = 'after';
        break;
      case 'delete':
        this.beforeState = event.before ? SideState.Present : SideState.NotLogged;
        this.afterState = SideState.Absent;
        this.currentSide = 'before';
        break;
      default: // truncate, message: no rows
        this.beforeState = SideState.Absent;
        this.afterState = SideState.Absent;
        this.currentSide = undefined;
    }
  }

  /** The column's value, or UNKNOWN, NO_SIDE or SIDE_NOT_LOGGED. */
  get(side: RowSide, column: string): unknown {
    const which = side === 'current' ? this.currentSide : side;
    if (which === 'after') return readColumn(this.afterRow, this.afterState, column);
    if (which === 'before') {
      if (this.beforeState === SideState.NotLogged && this.afterState === SideState.Present && this.keyColumns?.includes(column)) {
        // An update without an old tuple did not change its key (pgoutput sends the old key when
        // it changes; Debezium turns a key change into delete + create), so before = after there.
        return readColumn(this.afterRow, SideState.Present, column);
      }
      return readColumn(this.beforeRow, this.beforeState, column);
    }
    return NO_SIDE;
  }

  /** For `exists`: true/false, or undefined when the side was not logged (cannot tell). */
  has(side: RowSide, column: string): boolean | undefined {
    const which = side === 'current' ? this.currentSide : side;
    const state = which === 'after' ? this.afterState : which === 'before' ? this.beforeState : SideState.Absent;
    if (state === SideState.Absent) return false;
    if (state === SideState.NotLogged) return undefined;
    const row = which === 'after' ? this.afterRow : this.beforeRow;
    return row !== undefined && Object.hasOwn(row, column);
  }
}

function readColumn(row: Row | undefined, state: SideState, column: string): unknown {
  if (state === SideState.Absent) return NO_SIDE;
  if (state === SideState.NotLogged || row === undefined) return SIDE_NOT_LOGGED;
  const value = Object.hasOwn(row, column) ? row[column] : undefined;
  return value === undefined ? UNKNOWN : value;
}

/** True when a lookup produced a usable value (SQL NULL included). */
export function isValue(lookup: unknown): boolean {
  return lookup !== UNKNOWN && lookup !== NO_SIDE && lookup !== SIDE_NOT_LOGGED;
}
