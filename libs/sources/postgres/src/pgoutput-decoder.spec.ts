import { ChangeEvent, DeadLetter, UNKNOWN } from '@cdc/core';
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Pgoutput } from 'pg-logical-replication';
import { Lsn } from './lsn';
import { DecodedStream, PgoutputDecoder } from './pgoutput-decoder';

/** Messages shaped as pg-logical-replication hands them out, without a server. */
function relation(replicaIdentity: Pgoutput.MessageRelation['replicaIdentity'] = 'default'): Pgoutput.MessageRelation {
  const column = (name: string, typeOid: number, key: boolean): Pgoutput.RelationColumn => ({
    name,
    flags: key ? 1 : 0,
    typeOid,
    typeMod: -1,
    typeSchema: null,
    typeName: null,
    parser: (raw: string) => raw,
  });
  return {
    tag: 'relation',
    relationOid: 42,
    schema: 'public',
    name: 'docs',
    replicaIdentity,
    columns: [column('id', 23, true), column('title', 25, false), column('body', 25, false)],
    keyColumns: ['id'],
  };
}

function recorder(): DecodedStream & { events: ChangeEvent[]; commits: Lsn[]; letters: DeadLetter[]; skips: string[] } {
  const r = {
    events: [] as ChangeEvent[],
    commits: [] as Lsn[],
    letters: [] as DeadLetter[],
    skips: [] as string[],
    onEvent: (e: ChangeEvent) => r.events.push(e),
    onCommit: (lsn: Lsn) => r.commits.push(lsn),
    onDeadLetter: (l: DeadLetter) => r.letters.push(l),
    onSkip: (reason: string) => r.skips.push(reason),
  };
  return r;
}

const begin: Pgoutput.MessageBegin = { tag: 'begin', commitLsn: '00000000/016B3748', commitTime: 1714557600123456n, xid: -1 };
const commit: Pgoutput.MessageCommit = { tag: 'commit', flags: 0, commitLsn: '00000000/016B3748', commitEndLsn: '00000000/016B3780', commitTime: 1714557600123456n };

describe('PgoutputDecoder', () => {
  it('stamps events with the transaction: commit LSN, µs commit time, unsigned xid; commits with the end LSN', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    const rel = relation();
    d.decode(rel);
    assert.equal(rel.columns[0].parser('5'), 5, 'the relation columns now parse with our parsers');
    d.decode(begin);
    assert.ok(d.inTransaction);
    d.decode({ tag: 'insert', relation: rel, new: { id: 1, title: 't', body: null } });
    d.decode(commit);
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
    assert.deepEqual(d.relation(42)?.columns, ['id', 'title', 'body']);
  });

  it('turns unchanged TOAST into UNKNOWN and fills `before` from the key when no old tuple is logged', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    const rel = relation();
    d.decode(begin);
    // Key unchanged, identity default: no old tuple; body unchanged and TOASTed.
    d.decode({ tag: 'update', relation: rel, key: null, old: null, new: { id: 1, title: 'new', body: undefined } });
    // Key changed: the old key only.
    d.decode({ tag: 'update', relation: rel, key: { id: 1 }, old: null, new: { id: 2, title: 'new', body: 'b' } });
    d.decode({ tag: 'delete', relation: rel, key: { id: 2 }, old: null });
    const full = relation('full');
    d.decode({ tag: 'delete', relation: full, key: null, old: { id: 3, title: 'x', body: 'y' } });
    d.decode({ tag: 'truncate', cascade: false, restartIdentity: false, relations: [rel, undefined as unknown as Pgoutput.MessageRelation] });
    const [u1, u2, d1, d2, t] = out.events;
    assert.deepEqual(u1.after, { id: 1, title: 'new', body: UNKNOWN });
    assert.deepEqual(u1.before, { id: 1, title: UNKNOWN, body: UNKNOWN });
    assert.deepEqual(u2.before, { id: 1, title: UNKNOWN, body: UNKNOWN });
    assert.deepEqual(d1.before, { id: 2, title: UNKNOWN, body: UNKNOWN });
    assert.equal(d1.after, undefined);
    assert.deepEqual(d2.before, { id: 3, title: 'x', body: 'y' });
    assert.equal(t.op, 'truncate');
    assert.equal(t.before, undefined);
    assert.deepEqual(out.skips, ['unknown-relation']);
  });

  it('keeps only transactional messages with its prefix and dead-letters malformed ones', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out);
    const message = (prefix: string, content: string, transactional = true): Pgoutput.MessageMessage => ({
      tag: 'message',
      flags: transactional ? 1 : 0,
      transactional,
      messageLsn: '0/10',
      prefix,
      content: new TextEncoder().encode(content),
    });
    d.decode(message('cache-invalidation', '{"keys":["k"]}')); // outside a transaction
    d.decode(begin);
    d.decode(message('cache-invalidation', '{"keys":["k"]}'));
    d.decode(message('other', '{"keys":["x"]}'));
    d.decode(message('cache-invalidation', '{"keys":["x"]}', false));
    d.decode(message('cache-invalidation', '{"keys":"k"}'));
    assert.deepEqual(
      out.events.map((e) => [e.op, e.explicit, e.position]),
      [['message', { keys: ['k'], tags: [], patterns: [] }, '0/16B3748']],
    );
    assert.deepEqual(out.skips, ['non-transactional-message', 'other-prefix', 'non-transactional-message']);
    assert.equal(out.letters.length, 1);
    assert.match(out.letters[0].reason, /keys/);
    assert.deepEqual(out.letters[0].payload, { prefix: 'cache-invalidation', messageLsn: '0/10', content: '{"keys":"k"}' });
  });

  it('dead-letters an explicit invalidation its policy refuses, with the reason, and applies nothing of it', () => {
    const out = recorder();
    const d = new PgoutputDecoder('cache-invalidation', out, { allow: new Set(['keys']), prefixes: ['product:'], maxItems: 2, minPatternPrefix: 3 });
    const message = (content: string): Pgoutput.MessageMessage => ({
      tag: 'message',
      flags: 1,
      transactional: true,
      messageLsn: '0/10',
      prefix: 'cache-invalidation',
      content: new TextEncoder().encode(content),
    });
    d.decode(begin);
    d.decode(message('{"patterns":["*"]}'));
    d.decode(message('{"keys":["product:1","cdc:cdn:outbox"]}'));
    d.decode(message('{"keys":["product:1","product:2","product:3"]}'));
    d.decode(message('{"keys":["product:1"]}'));
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
});
