import { CdcError } from '@cdc/core';
import { RelationPlan, ValueKind } from './relation-plan';

/**
 * A cursor over one pgoutput message (the XLogData payload), reused for every message:
 * big-endian integers, NUL-terminated strings and TupleData, as the PostgreSQL docs
 * "Logical Replication Message Formats" lay them out. Values are read straight from the
 * bytes: a column that is not decoded is skipped by its length, without a string.
 *
 * The bytes belong to the connection's read buffer and are overwritten by later socket
 * data: nothing here keeps a view of them (binary values are copied).
 */

/** Buffer's own UTF-8 slice (what `toString('utf8', start, end)` calls after argument checks). */
type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string };

const EMPTY = Buffer.alloc(0) as Utf8Buffer;

export function undecodable(message: string): CdcError {
  return new CdcError(`cannot decode a pgoutput message: ${message}`, { code: 'UNDECODABLE', retriable: false });
}

export class PgoutputReader {
  private buf: Utf8Buffer = EMPTY;
  pos = 0;

  reset(buf: Buffer, start: number): void {
    this.buf = buf as Utf8Buffer;
    this.pos = start;
  }

  /** Drops the reference to the socket's buffer once a message is done. */
  release(): void {
    this.buf = EMPTY;
    this.pos = 0;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw undecodable('unexpected end of message');
    return this.buf[this.pos++];
  }

  i16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  /** Int32 (lengths): negative only in a malformed message. */
  i32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  }

  /** An unsigned 64-bit integer as a double: exact below 2^53 (µs timestamps, LSNs in practice). */
  u64(): number {
    return this.u32() * 0x100000000 + this.u32();
  }

  /** An LSN as Postgres prints it (`X/Y`). */
  lsnText(): string {
    const hi = this.u32();
    const lo = this.u32();
    return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
  }

  lsn(): bigint {
    const hi = this.u32();
    const lo = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw undecodable('unterminated string');
    const s = this.buf.utf8Slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const view = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return view;
  }

  /**
   * Reads one TupleData into `row` (a copy of the plan's template: UNKNOWN everywhere).
   * 'n' → null, 'u' (unchanged TOAST) → the old row's value when the old tuple was logged
   * (`fallback`), else stays UNKNOWN; 't' → the column's value; 'b' → a copy of the bytes.
   * `keysOnly` (an old-key tuple, 'K'): only key columns are read, and a NULL there is the
   * placeholder pgoutput sends for a non-key column, so it stays UNKNOWN.
   */
  tuple(plan: RelationPlan, row: Record<string, unknown>, fallback: Record<string, unknown> | undefined, keysOnly: boolean): void {
    const n = this.i16();
    const { kinds, isKey, parsers } = plan;
    const columns = plan.shape.columns;
    if (n > columns.length) throw undecodable(`a tuple of ${plan.shape.schema}.${plan.shape.table} has ${n} columns, the relation ${columns.length}`);
    for (let i = 0; i < n; i++) {
      const kind = this.u8();
      let decode = kinds[i];
      if (keysOnly && isKey[i] === 0) decode = ValueKind.Skip;
      if (kind === 0x74 /* t */) {
        const len = this.i32();
        this.need(len);
        const start = this.pos;
        this.pos = start + len;
        if (decode !== ValueKind.Skip) row[columns[i]] = this.value(decode, start, start + len, parsers[i]);
      } else if (kind === 0x6e /* n */) {
        if (decode !== ValueKind.Skip && !keysOnly) row[columns[i]] = null;
      } else if (kind === 0x75 /* u */) {
        if (decode !== ValueKind.Skip && fallback !== undefined) row[columns[i]] = fallback[columns[i]];
      } else if (kind === 0x62 /* b */) {
        const len = this.i32();
        const view = this.bytes(len);
        if (decode !== ValueKind.Skip) row[columns[i]] = Buffer.from(view);
      } else {
        throw undecodable(`unknown tuple value kind 0x${kind.toString(16)}`);
      }
    }
  }

  private value(kind: number, start: number, end: number, parser: ((text: string) => unknown) | undefined): unknown {
    const b = this.buf;
    switch (kind) {
      case ValueKind.Text:
        return b.utf8Slice(start, end);
      case ValueKind.Integer:
        return integerAt(b, start, end);
      case ValueKind.Boolean:
        return end - start === 1 && b[start] === 0x74; // 't', as asBoolean reads the text
      default:
        return (parser as (text: string) => unknown)(b.utf8Slice(start, end));
    }
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw undecodable('unexpected end of message');
  }
}

/** int2/int4/oid text (`-?[0-9]+`) as a number, what `parseInt(text, 10)` gives; anything else goes through parseInt. */
function integerAt(b: Utf8Buffer, start: number, end: number): number {
  let i = start;
  const negative = b[i] === 0x2d;
  if (negative) i++;
  if (i === end || end - i > 15) return Number.parseInt(b.utf8Slice(start, end), 10);
  let n = 0;
  for (; i < end; i++) {
    const d = b[i] - 0x30;
    if (d < 0 || d > 9) return Number.parseInt(b.utf8Slice(start, end), 10);
    n = n * 10 + d;
  }
  return negative ? -n : n;
}
