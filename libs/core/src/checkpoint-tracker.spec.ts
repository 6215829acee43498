import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CheckpointTracker } from './checkpoint-tracker';

describe('CheckpointTracker', () => {
  it('confirms only the highest contiguous completed position', () => {
    const t = new CheckpointTracker<string>();
    const a = t.track('A');
    const b = t.track('B');
    const c = t.track('C');
    assert.equal(t.complete(b), undefined, 'B done but A is not: nothing confirmed');
    assert.equal(t.confirmed, undefined);
    assert.equal(t.complete(c), undefined);
    assert.equal(t.complete(a), 'C', 'A completes the run A..C');
    assert.equal(t.confirmed, 'C');
    assert.equal(t.inFlight, 0);
  });

  it('confirms a chunked transaction only at its final chunk', () => {
    const t = new CheckpointTracker<number>(5);
    const chunk1 = t.track(undefined);
    const chunk2 = t.track(undefined);
    const commit = t.track(10);
    assert.equal(t.complete(chunk1), undefined);
    assert.equal(t.complete(chunk2), undefined);
    assert.equal(t.confirmed, 5);
    assert.equal(t.complete(commit), 10);
  });

  it('ignores duplicate and stale tickets', () => {
    const t = new CheckpointTracker<number>();
    const a = t.track(1);
    assert.equal(t.complete(a), 1);
    assert.equal(t.complete(a), undefined);
    t.reset();
    const b = t.track(2);
    assert.equal(t.complete(a), undefined);
    assert.equal(t.complete(b), 2);
  });

  it('stays correct across compaction with many tickets', () => {
    const t = new CheckpointTracker<number>();
    const tickets: number[] = [];
    for (let i = 0; i < 5000; i++) tickets.push(t.track(i));
    // complete in reverse blocks of 7
    for (let i = tickets.length - 1; i >= 1; i--) t.complete(tickets[i]);
    assert.equal(t.confirmed, undefined);
    assert.equal(t.complete(tickets[0]), 4999);
    for (let i = 0; i < 3000; i++) {
      const x = t.track(10_000 + i);
      assert.equal(t.complete(x), 10_000 + i);
    }
    assert.equal(t.inFlight, 0);
  });
});
