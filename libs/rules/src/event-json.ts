import { z } from 'zod';
import { BadEventError, ChangeEvent, ChangeOp, CHANGE_OPS, Row, UNKNOWN } from '@cdc/core';
import { parseColumnRef } from './column-ref';

/** Debezium's one-letter ops are accepted too, so an event copied from a topic can be explained as is. */
const OP_ALIASES: Readonly<Record<string, ChangeOp>> = { c: 'insert', u: 'update', d: 'delete', r: 'snapshot', t: 'truncate', m: 'message' };

const row = z.record(z.unknown()).nullable().optional();
const stringList = z.array(z.string());
const eventJson = z
  .object({
    op: z.string(),
    table: z.string().optional(),
    schema: z.string().optional(),
    before: row,
    after: row,
    unknown: stringList.optional(),
    keyColumns: stringList.optional(),
    commitTime: z.union([z.string(), z.number()]).optional(),
    position: z.string().optional(),
    txId: z.string().optional(),
    explicit: z
      .object({ keys: stringList.default([]), tags: stringList.default([]), patterns: stringList.default([]) })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Builds a ChangeEvent from the JSON the CLI's `explain --event` takes:
 * `{ "op": "update", "table": "public.products", "before": {..}, "after": {..}, "unknown": ["description"] }`.
 * `unknown` lists columns to mark UNKNOWN (`col` on both sides, or `before.col` / `after.col`).
 * Throws a BadEventError naming the bad field.
 */
export function parseEventJson(json: unknown): ChangeEvent {
  const parsed = eventJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ['event', ...issue.path].join('.');
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}; allowed: ${Object.keys(eventJson.shape).join(', ')}`
        : issue.message;
    throw new BadEventError(`invalid event: ${field}: ${message}`);
  }
  const e = parsed.data;
  const op = (CHANGE_OPS as readonly string[]).includes(e.op) ? (e.op as ChangeOp) : OP_ALIASES[e.op];
  if (!op) throw new BadEventError(`invalid event: event.op: unknown op '${e.op}'; expected one of ${CHANGE_OPS.join(', ')}`);

  const { schema, table } = op === 'message' ? { schema: '', table: '' } : splitTable(e.schema, e.table);
  const before = e.before ?? undefined;
  const after = e.after ?? undefined;
  requireSides(op, before, after, e.explicit !== undefined);
  const marked = markUnknown(e.unknown ?? [], before, after);
  return {
    op,
    schema,
    table,
    ...(marked.before ? { before: marked.before } : {}),
    ...(marked.after ? { after: marked.after } : {}),
    ...(e.keyColumns ? { keyColumns: e.keyColumns } : {}),
    ...(e.txId ? { txId: e.txId } : {}),
    ...(e.explicit ? { explicit: e.explicit } : {}),
    commitTimeMs: commitTimeMs(e.commitTime),
    position: e.position ?? 'explain',
  };
}

function splitTable(schema: string | undefined, table: string | undefined): { schema: string; table: string } {
  if (!table) throw new BadEventError('invalid event: event.table: required, as schema.table (or give schema and table)');
  if (schema !== undefined) return { schema, table };
  const dot = table.indexOf('.');
  if (dot <= 0 || dot === table.length - 1) {
    throw new BadEventError(`invalid event: event.table: '${table}' must be schema.table (or give event.schema)`);
  }
  return { schema: table.slice(0, dot), table: table.slice(dot + 1) };
}

function requireSides(op: ChangeOp, before: Row | undefined, after: Row | undefined, hasExplicit: boolean): void {
  const fail = (field: string, what: string) => {
    throw new BadEventError(`invalid event: event.${field}: ${what}`);
  };
  if (op === 'message') {
    if (!hasExplicit) fail('explicit', 'required for a message event ({"keys": [..], "tags": [..], "patterns": [..]})');
    return;
  }
  if (hasExplicit) fail('explicit', `only message events carry explicit invalidations, not ${op}`);
  if ((op === 'insert' || op === 'snapshot' || op === 'update') && !after) fail('after', `required for ${op} (the new row)`);
  if ((op === 'insert' || op === 'snapshot') && before) fail('before', `${op} has no old row`);
  if (op === 'delete' && !before) fail('before', 'required for delete (the old row, at least its key)');
  if (op === 'delete' && after) fail('after', 'delete has no new row');
  if (op === 'truncate' && (before || after)) fail(before ? 'before' : 'after', 'truncate carries no rows');
}

function markUnknown(columns: readonly string[], before: Row | undefined, after: Row | undefined): { before?: Row; after?: Row } {
  if (columns.length === 0) return { before, after };
  const b = before ? { ...before } : undefined;
  const a = after ? { ...after } : undefined;
  columns.forEach((text, i) => {
    const ref = parseColumnRef(text);
    if ('error' in ref) throw new BadEventError(`invalid event: event.unknown.${i}: ${ref.error}`);
    if (ref.side !== 'after' && b) b[ref.column] = UNKNOWN;
    if (ref.side !== 'before' && a) a[ref.column] = UNKNOWN;
  });
  return { before: b, after: a };
}

function commitTimeMs(value: string | number | undefined): number {
  if (value === undefined) return Date.now();
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new BadEventError(`invalid event: event.commitTime: '${value}' is not an ISO timestamp or epoch milliseconds`);
  return ms;
}
