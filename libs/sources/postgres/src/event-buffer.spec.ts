import { ChangeEvent, DeadLetter } from '@cdc/core';
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EventBuffer } from './event-buffer';

function ev(id: number): ChangeEvent {
  return { op: 'insert', schema: 'public', table: 't', after: { id }, commitTimeMs: 0, position: '0/1' };
}
const letter: DeadLetter = { reason: 'bad', source: 'postgres', position: '0/1', payload: null, at: '' };
const ids = (events: readonly ChangeEvent[]): unknown[] => events.map((e) => e.after?.id);

describe('EventBuffer', () => {
  it('hands out at most maxEvents and carries the commit that follows the last event taken', () => {
    const b = new EventBuffer();
    b.pushEvent(ev(1));
    b.pushEvent(ev(2));
    b.pushPosition(10n);
    b.pushEvent(ev(3));
    assert.equal(b.eventCount, 3);
    const first = b.take(2);
    assert.deepEqual(ids(first.events), [1, 2]);
    assert.equal(first.position, 10n, 'the commit right after event 2 rides with it');
    const second = b.take(2);
    assert.deepEqual(ids(second.events), [3]);
    assert.equal(second.position, undefined, 'a chunk that ends mid-transaction has no position');
    assert.ok(b.isEmpty);
  });

  it('keeps the last of several positions and the dead letters in between', () => {
    const b = new EventBuffer();
    b.pushEvent(ev(1));
    b.pushPosition(10n);
    b.pushDeadLetter(letter);
    b.pushEvent(ev(2));
    b.pushPosition(20n);
    const run = b.take(100);
    assert.deepEqual(ids(run.events), [1, 2]);
    assert.equal(run.position, 20n);
    assert.deepEqual(run.deadLetters, [letter]);
  });

  it('stops before an event beyond the limit, leaving it and its commit for the next take', () => {
    const b = new EventBuffer();
    for (let i = 0; i < 5000; i++) {
      b.pushEvent(ev(i));
      b.pushPosition(BigInt(i + 1));
    }
    let taken = 0;
    let lastPosition: bigint | undefined;
    while (!b.isEmpty) {
      const run = b.take(7);
      assert.ok(run.events.length <= 7);
      assert.equal(run.position, BigInt(taken + run.events.length), 'each run ends at its own last commit');
      taken += run.events.length;
      lastPosition = run.position;
    }
    assert.equal(taken, 5000);
    assert.equal(lastPosition, 5000n);
    assert.equal(b.eventCount, 0);
  });

  it('forgets everything on clear', () => {
    const b = new EventBuffer();
    b.pushEvent(ev(1));
    b.pushPosition(1n);
    b.clear();
    assert.ok(b.isEmpty);
    assert.equal(b.eventCount, 0);
    assert.deepEqual(b.take(10), { events: [], position: undefined, deadLetters: [] });
  });
});
