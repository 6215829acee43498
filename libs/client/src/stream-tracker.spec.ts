import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { StreamTracker } from './stream-tracker';

describe('StreamTracker (v2 gap detection)', () => {
  it('adopts the first message after a subscribe, then follows the sequence', () => {
    const t = new StreamTracker();
    t.reset('c');
    assert.equal(t.observe('c', 'A', 57, 'invalidate'), 'in-order');
    assert.equal(t.observe('c', 'A', 58, 'invalidate'), 'in-order');
    assert.equal(t.observe('c', 'A', 58, 'heartbeat'), 'in-order');
    assert.equal(t.observe('c', 'A', 58, 'invalidate'), 'duplicate');
    assert.equal(t.observe('c', 'A', 57, 'invalidate'), 'duplicate');
    assert.equal(t.observe('c', 'A', 60, 'invalidate'), 'gap');
    assert.equal(t.observe('c', 'A', 61, 'invalidate'), 'in-order');
  });

  it('sees a lost last message at the next heartbeat', () => {
    const t = new StreamTracker();
    t.reset('c');
    t.observe('c', 'A', 1, 'invalidate');
    assert.equal(t.observe('c', 'A', 2, 'heartbeat'), 'gap');
    assert.equal(t.observe('c', 'A', 2, 'heartbeat'), 'in-order');
  });

  it('a new worker process (restart, failover) starting at 1 is adopted; one we joined late is a gap', () => {
    const t = new StreamTracker();
    t.reset('c');
    t.observe('c', 'A', 5, 'invalidate');
    assert.equal(t.observe('c', 'B', 1, 'invalidate'), 'in-order');
    assert.equal(t.observe('c', 'C', 0, 'heartbeat'), 'in-order');
    assert.equal(t.observe('c', 'D', 3, 'invalidate'), 'gap');
    assert.equal(t.observe('c', 'E', 2, 'heartbeat'), 'gap');
    // the old stream's late heartbeat is still judged against its own sequence
    assert.equal(t.observe('c', 'D', 4, 'invalidate'), 'in-order');
  });

  it('keeps channels apart, forgets old streams (bounded) and starts over after a reset', () => {
    const t = new StreamTracker(2);
    t.reset('c1');
    t.reset('c2');
    t.observe('c1', 'A', 10, 'invalidate');
    assert.equal(t.observe('c2', 'A', 3, 'invalidate'), 'in-order', 'adopted on c2 independently');
    t.observe('c1', 'B', 1, 'invalidate');
    t.observe('c1', 'C', 1, 'invalidate'); // A is forgotten (2 streams per channel)
    assert.equal(t.observe('c1', 'A', 11, 'invalidate'), 'gap');
    t.reset('c1');
    assert.equal(t.observe('c1', 'A', 99, 'invalidate'), 'in-order');
  });
});
