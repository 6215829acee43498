import { ALL_COLUMNS, ChangeEvent, ColumnDemand, DeadLetter, UNKNOWN } from '@cdc/core';
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Lsn } from './lsn';
import { DecodedStream, PgoutputDecoder } from './pgoutput-decoder';

/**
 * pgoutput messages as the walsender sends them (protocol version 1, "Logical Replication
 * Message Formats"), built byte by byte, without a server.
 */
class Bytes {
  private readonly parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  ch(c: string): this {
    return this.u8(c.charCodeAt(0));
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type Value = string | null | 'u' | { binary: Buffer };
const UNCHANGED = 'u';

function tuple(b: Bytes, values: readonly Value[]): Bytes {
  b.i16(values.length);
  for (const v of values) {
    if (v === null) b.ch('n');
    else if (v === UNCHANGED) b.ch('u');
    else if (typeof v === 'object') b.ch('b').u32(v.binary.length).raw(v.binary);
    else {
      const text = Buffer.from(v, 'utf8');
      b.ch('t').u32(text.length).raw(text);
    }
  }
  return b;
}

interface Col {
  name: string;
  type: number;
  key?: boolean;
}
const DOCS: Col[] = [
  { name: 'id', type: 23, key: true },
  { name: 'title', type: 25 },
  { name: 'body', type: 25 },
];
/** Under REPLICA IDENTITY FULL pgoutput flags every column as part of the identity. */
const DOCS_FULL: Col[] = DOCS.map((c) => ({ ...c, key: true }));

function relation(oid: number, table: string, columns: Col[], identity = 'd', schema = 'public'): Buffer {
  const b = new Bytes().ch('R').u32(oid).str(schema).str(table).ch(identity).i16(columns.length);
  for (const c of columns) b.u8(c.key ? 1 : 0).str(c.name).u32(c.type).u32(0xffffffff);
  return b.done();
}
const begin = (finalLsn = 0x16b3748n, xid = 0xffffffff, commitUs = 767_872_800_123_456n) => new Bytes().ch('B').u64(finalLsn).u64(commitUs).u32(xid).done();
const commit = (endLsn = 0x16b3780n) => new Bytes().ch('C').u8(0).u64(0x16b3748n).u64(endLsn).u64(767_872_800_123_456n).done();
const insert = (oid: number, values: Value[]) => tuple(new Bytes().ch('I').u32(oid).ch('N'), values).done();
function update(oid: number, values: Value[], old?: { kind: 'K' | 'O'; values: Value[] }): Buffer {
  const b = new Bytes().ch('U').u32(oid);
  if (old) tuple(b.ch(old.kind), old.values);
  return tuple(b.ch('N'), values).done();
}
const del = (oid: number, kind: 'K' | 'O', values: Value[]) => tuple(new Bytes().ch('D').u32(oid).ch(kind), values).done();
const message = (prefix: string, content: string, transactional = true, lsn = 0x10n) =>
  new Bytes().ch('M').u8(transactional ? 1 : 0).u64(lsn).str(prefix).u32(Buffer.byteLength(content)).raw(Buffer.from(content)).done();

function recorder(): DecodedStream & { events: ChangeEvent[]; commits: Lsn[]; letters: DeadLetter[]; skips: string[]; counted: string[] } {
  const r = {
    events: [] as ChangeEvent[],
    commits: [] as Lsn[],
    letters: [] as DeadLetter[],
    skips: [] as string[],
    counted: [] as string[],
    onEvent: (e: ChangeEvent, count: { key: string } | undefined) => {
      r.events.push(e);
      if (count) r.counted.push(count.key);
    },
    onCommit: (lsn: Lsn) => r.commits.push(lsn),
    onDeadLetter: (l: DeadLetter) => r.letters.push(l),
    onSkip: (reason: string) => r.skips.push(reason),
  };
  return r;
}

/** A demand naming columns per `schema.table`; tables not listed: none but the key. */
function demandOf(tables: Record<string, string[] | 'all'>): ColumnDemand {
  return {
    columnsOf: (schema, table) => {
      const c = tables[`${schema}.${table}`];
      return c === 'all' ? undefined : new Set(c ?? []);
    },
  };
}

/**
 * Frames captured from PostgreSQL 15.20 (pgoutput, protocol 1; XLogData payloads) for:
 *   CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(6,2), tags text[], body text);  -- body STORAGE EXTERNAL
 *   INSERT INTO items VALUES (1, 'Café', 9.5, '{a,b}', repeat('x', 3000));
 *   UPDATE items SET price = 10 WHERE id = 1;   -- body unchanged and TOASTed: 'u'
 *   UPDATE items SET id = 2 WHERE id = 1;       -- the old key: 'K'
 *   BEGIN; SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"keys":["k"]}'); DELETE FROM items WHERE id = 2; COMMIT;
 * `<X3000>` stands for the 3000 bytes of 'x' (kept out of the file).
 */
const CAPTURED = [
  '42000000000151805800030499a37eefea000002d5',
  '52000040007075626c6963006974656d73006400050169640000000017ffffffff006e616d650000000019ffffffff00707269636500000006a400060006007461677300000003f1ffffffff00626f64790000000019ffffffff',
  '49000040004e00057400000001317400000005436166c3a97400000004392e353074000000057b612c627d7400000bb8<X3000>',
  '43000000000001518058000000000151808800030499a37eefea',
  '42000000000151814800030499a37fa3ae000002d6',
  '55000040004e00057400000001317400000005436166c3a9740000000531302e303074000000057b612c627d75',
  '43000000000001518148000000000151817800030499a37fa3ae',
  '42000000000151828800030499a3808594000002d7',
  '55000040004b00057400000001316e6e6e6e4e00057400000001327400000005436166c3a9740000000531302e303074000000057b612c627d75',
  '4300000000000151828800000000015182b800030499a3808594',
  '4200000000015183c000030499a38109fd000002d8',
  '4d01000000000151831063616368652d696e76616c69646174696f6e000000000e7b226b657973223a5b226b225d7d',
  '44000040004b00057400000001326e6e6e6e',
  '430000000000015183c000000000015183f000030499a38109fd',
].map((hex) => Buffer.from(hex.replace('<X3000>', '78'.repeat(3000)), 'hex'));

describe('PgoutputDecoder', () => {
  it('stamps events with the transaction: commit LSN, µs commit time, unsigned xid; commits with the end LSN', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    d.decode(relation(42, 'docs', DOCS));
    d.decode(begin());
    assert.ok(d.inTransaction);
    d.decode(insert(42, ['1', 't', null]));
    d.decode(commit());
    assert.ok(!d.inTransaction);
    assert.deepEqual(out.events, [
      {
        op: 'insert',
        schema: 'public',
        table: 'docs',
        keyColumns: ['id'],
        commitTimeMs: 1714557600123.456,
        position: '0/16B3748',
        txId: '4294967295',
        after: { id: 1, title: 't', body: null },
      },
    ]);
    assert.deepEqual(out.commits, [0x16b3780n]);
    assert.deepEqual(out.counted, ['public.docs\u0000insert']);
    assert.deepEqual(d.relation(42)?.columns, ['id', 'title', 'body']);
  });

  it('decodes frames captured from a real server: insert, unchanged TOAST, old key, message, delete', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    for (const frame of CAPTURED) d.decode(frame);
    const x = 'x'.repeat(3000);
    const tx = (position: string, txId: string) => ({ schema: 'public', table: 'items', keyColumns: ['id'], position, txId });
    const keyOnly = (id: number) => ({ id, name: UNKNOWN, price: UNKNOWN, tags: UNKNOWN, body: UNKNOWN });
    const rows = out.events.map(({ commitTimeMs, ...e }) => (assert.ok(commitTimeMs > 1.7e12), e));
    assert.deepEqual(rows, [
      { op: 'insert', ...tx('0/1518058', '725'), after: { id: 1, name: 'Café', price: '9.50', tags: ['a', 'b'], body: x } },
      { op: 'update', ...tx('0/1518148', '726'), before: keyOnly(1), after: { id: 1, name: 'Café', price: '10.00', tags: ['a', 'b'], body: UNKNOWN } },
      { op: 'update', ...tx('0/1518288', '727'), before: keyOnly(1), after: { id: 2, name: 'Café', price: '10.00', tags: ['a', 'b'], body: UNKNOWN } },
      { op: 'message', schema: '', table: '', position: '0/15183C0', txId: '728', explicit: { keys: ['k'], tags: [], patterns: [] } },
      { op: 'delete', ...tx('0/15183C0', '728'), before: keyOnly(2) },
    ]);
    assert.equal(out.events[0].commitTimeMs, 1796167649644.522);
    assert.deepEqual(out.commits, [0x1518088n, 0x1518178n, 0x15182b8n, 0x15183f0n]);
    assert.ok(!d.inTransaction);
  });

  it('reads a message from an offset inside a larger frame (the XLogData header before it)', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    const frame = (m: Buffer) => Buffer.concat([Buffer.alloc(25, 0x77), m]);
    d.decode(frame(relation(42, 'docs', DOCS)), 25);
    d.decode(frame(begin()), 25);
    d.decode(frame(insert(42, ['7', 'é', 'ü'])), 25);
    assert.deepEqual(out.events[0].after, { id: 7, title: 'é', body: 'ü' });
  });

  it('turns unchanged TOAST into UNKNOWN and fills `before` from the key when no old tuple is logged', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    d.decode(relation(42, 'docs', DOCS));
    d.decode(relation(43, 'docs_full', DOCS_FULL, 'f'));
    d.decode(begin());
    // Key unchanged, identity default: no old tuple; body unchanged and TOASTed.
    d.decode(update(42, ['1', 'new', UNCHANGED]));
    // Key changed: the old key only (non-key columns are sent as NULL placeholders).
    d.decode(update(42, ['2', 'new', 'b'], { kind: 'K', values: ['1', null, null] }));
    d.decode(del(42, 'K', ['2', null, null]));
    d.decode(del(43, 'O', ['3', 'x', 'y']));
    // FULL: an unchanged TOASTed value in the new tuple is the old tuple's.
    d.decode(update(43, ['3', 'x2', UNCHANGED], { kind: 'O', values: ['3', 'x', 'long'] }));
    d.decode(new Bytes().ch('T').u32(2).u8(0).u32(42).u32(99).done());
    const [u1, u2, d1, d2, u3, t] = out.events;
    assert.deepEqual(u1.after, { id: 1, title: 'new', body: UNKNOWN });
    assert.deepEqual(u1.before, { id: 1, title: UNKNOWN, body: UNKNOWN });
    assert.deepEqual(u2.before, { id: 1, title: UNKNOWN, body: UNKNOWN });
    assert.deepEqual(u2.after, { id: 2, title: 'new', body: 'b' });
    assert.deepEqual(d1.before, { id: 2, title: UNKNOWN, body: UNKNOWN });
    assert.equal(d1.after, undefined);
    assert.deepEqual(d2.before, { id: 3, title: 'x', body: 'y' });
    assert.deepEqual(d2.keyColumns, ['id', 'title', 'body']);
    assert.deepEqual(u3.after, { id: 3, title: 'x2', body: 'long' });
    assert.equal(t.op, 'truncate');
    assert.equal(t.before, undefined);
    assert.equal(out.events.length, 6);
    assert.deepEqual(out.skips, ['unknown-relation']);
  });

  it('decodes types as value-parsers.ts says: integers, booleans, json, arrays, user-type arrays, binary copies', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    d.decode(new Bytes().ch('Y').u32(50_001).str('public').str('_mood').done());
    const cols: Col[] = [
      { name: 'i2', type: 21, key: true },
      { name: 'i4', type: 23 },
      { name: 'i8', type: 20 },
      { name: 'b', type: 16 },
      { name: 'j', type: 3802 },
      { name: 'a', type: 1007 },
      { name: 'moods', type: 50_001 },
      { name: 'ts', type: 1184 },
      { name: 'bin', type: 17 },
    ];
    d.decode(relation(44, 'typed', cols));
    d.decode(begin());
    const bin = Buffer.from([1, 2, 3]);
    d.decode(insert(44, ['-12', '2147483647', '9007199254740993', 't', '{"n":9007199254740993}', '{1,NULL,3}', '{happy,sad}', '2024-05-01 10:00:00.5+00', { binary: bin }]));
    d.decode(insert(44, ['0', 'x1', '1', 'f', 'null', '{}', '{}', 'infinity', null]));
    const [a, b] = out.events.map((e) => e.after as Record<string, unknown>);
    assert.deepEqual(a, {
      i2: -12,
      i4: 2147483647,
      i8: '9007199254740993',
      b: true,
      j: { n: '9007199254740993' },
      a: [1, null, 3],
      moods: ['happy', 'sad'],
      ts: '2024-05-01T10:00:00.5Z',
      bin: Buffer.from([1, 2, 3]),
    });
    assert.notEqual(a.bin, bin, 'binary values are copies, never views of the socket buffer');
    assert.equal(b.i4, Number.parseInt('x1', 10), 'unexpected integer text goes through parseInt');
    assert.equal(b.b, false);
    assert.equal(b.j, null);
    assert.equal(b.ts, 'infinity');
  });

  it('decodes only the demanded columns and the key; the others stay UNKNOWN, in column order', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    d.useDemand(demandOf({ 'public.docs': ['title'], 'public.docs_full': ['body'] }));
    d.decode(relation(42, 'docs', DOCS));
    d.decode(relation(43, 'docs_full', DOCS_FULL, 'f'));
    d.decode(begin());
    d.decode(update(42, ['1', 'a', 'b']));
    d.decode(update(43, ['3', 'x2', UNCHANGED], { kind: 'O', values: ['3', 'x', 'long'] }));
    d.decode(del(42, 'K', ['2', null, null]));
    const [u1, u2, d1] = out.events;
    assert.deepEqual(u1.after, { id: 1, title: 'a', body: UNKNOWN });
    assert.deepEqual(Object.keys(u1.after ?? {}), ['id', 'title', 'body']);
    assert.deepEqual(u1.before, { id: 1, title: UNKNOWN, body: UNKNOWN });
    // FULL: every column is flagged key, the old tuple is complete: only what is demanded.
    assert.deepEqual(u2.before, { id: UNKNOWN, title: UNKNOWN, body: 'long' });
    assert.deepEqual(u2.after, { id: UNKNOWN, title: UNKNOWN, body: 'long' });
    assert.deepEqual(u2.keyColumns, ['id', 'title', 'body']);
    assert.deepEqual(d1.before, { id: 2, title: UNKNOWN, body: UNKNOWN });
  });

  it('says whether events decoded so far cover a demand, and rebuilds its plans for a new one', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    const narrow = demandOf({ 'public.docs': ['title'] });
    d.useDemand(narrow);
    d.decode(relation(42, 'docs', DOCS));
    assert.ok(d.covers(narrow));
    assert.ok(d.covers(demandOf({ 'public.docs': ['title', 'id', 'no_such_column'], 'public.other': ['x'] })));
    assert.ok(!d.covers(demandOf({ 'public.docs': ['body'] })));
    assert.ok(!d.covers(ALL_COLUMNS));
    d.useDemand(ALL_COLUMNS);
    assert.ok(d.covers(demandOf({ 'public.docs': ['body'] })));
    d.decode(begin());
    d.decode(insert(42, ['1', 'a', 'b']));
    assert.deepEqual(out.events[0].after, { id: 1, title: 'a', body: 'b' });
  });

  it('keeps only transactional messages with its prefix and dead-letters malformed ones', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    d.decode(message('cache-invalidation', '{"keys":["k"]}')); // outside a transaction
    d.decode(begin());
    d.decode(message('cache-invalidation', '{"keys":["k"]}'));
    d.decode(message('other', '{"keys":["x"]}'));
    d.decode(message('cache-invalidation', '{"keys":["x"]}', false));
    d.decode(message('cache-invalidation', '{"keys":"k"}'));
    d.decode(message('cache-invalidation', '{"keys":"k"}', true, 0n));
    assert.deepEqual(
      out.events.map((e) => [e.op, e.explicit, e.position]),
      [['message', { keys: ['k'], tags: [], patterns: [] }, '0/16B3748']],
    );
    assert.deepEqual(out.counted, [], 'messages carry no per-table count');
    assert.deepEqual(out.skips, ['non-transactional-message', 'other-prefix', 'non-transactional-message']);
    assert.equal(out.letters.length, 2);
    assert.match(out.letters[0].reason, /keys/);
    assert.deepEqual(out.letters[0].payload, { prefix: 'cache-invalidation', messageLsn: '0/10', content: '{"keys":"k"}' });
    assert.deepEqual(out.letters[1].payload, { prefix: 'cache-invalidation', messageLsn: null, content: '{"keys":"k"}' });
  });

  it('dead-letters an explicit invalidation its policy refuses, with the reason, and applies nothing of it', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out, { allow: new Set(['keys']), prefixes: ['product:'], maxItems: 2, minPatternPrefix: 3 });
    d.decode(begin());
    d.decode(message('cache-invalidation', '{"patterns":["*"]}'));
    d.decode(message('cache-invalidation', '{"keys":["product:1","cdc:cdn:outbox"]}'));
    d.decode(message('cache-invalidation', '{"keys":["product:1","product:2","product:3"]}'));
    d.decode(message('cache-invalidation', '{"keys":["product:1"]}'));
    assert.deepEqual(out.events.map((e) => e.explicit), [{ keys: ['product:1'], tags: [], patterns: [] }]);
    assert.deepEqual(
      out.letters.map((l) => l.reason.replace(/:.*/, '')),
      ['message content is refused by policy', 'message content is refused by policy', 'message content is refused by policy'],
    );
    assert.match(out.letters[0].reason, /may not carry patterns/);
    assert.match(out.letters[1].reason, /"cdc:cdn:outbox" does not start with an allowed prefix/);
    assert.match(out.letters[2].reason, /3 items, more than EXPLICIT_INVALIDATION_MAX_ITEMS=2/);
    assert.equal(out.letters[0].payload && (out.letters[0].payload as { content: string }).content, '{"patterns":["*"]}');
  });

  it('refuses malformed messages with a non-retriable UNDECODABLE error, and skips origin messages', () => {
    const d = new PgoutputDecoder('cache-invalidation', recorder());
    const undecodable = (m: Buffer, pattern: RegExp) =>
      assert.throws(() => d.decode(m), (err: Error & { code?: string; retriable?: boolean }) => err.code === 'UNDECODABLE' && err.retriable === false && pattern.test(err.message));
    d.decode(new Bytes().ch('O').u64(1n).str('origin').done());
    undecodable(Buffer.from('Z'), /unknown message type 0x5a/);
    undecodable(insert(42, ['1']), /before its Relation message/);
    d.decode(relation(42, 'docs', DOCS));
    undecodable(insert(42, ['1', 'a', 'b']).subarray(0, 12), /unexpected end of message/);
    undecodable(insert(42, ['1', 'a', 'b', 'c']), /has 4 columns, the relation 3/);
    undecodable(new Bytes().ch('I').u32(42).ch('N').i16(1).ch('x').done(), /unknown tuple value kind 0x78/);
    undecodable(relation(45, 'weird', DOCS, 'z'), /unknown replica identity/);
  });
});
