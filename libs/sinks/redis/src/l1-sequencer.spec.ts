import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { L1Sequencer } from './l1-sequencer';

describe('L1Sequencer', () => {
  it('numbers each channel on its own from 1 and never reuses a seq, even when a publish failed', () => {
    const s = new L1Sequencer();
    const a1 = s.take('a', 0);
    const a2 = s.take('a', 0);
    const b1 = s.take('b', 0);
    assert.deepEqual([a1.seq, a2.seq, b1.seq], [1, 2, 1]);
    a2.done(); // its publish failed: the number is burnt
    assert.equal(s.take('a', 0).seq, 3);
    assert.equal(s.lastSeq('a'), 3);
  });

  it('offers a heartbeat only on channels idle for the interval and with no publish in flight, carrying the last seq', () => {
    const s = new L1Sequencer();
    s.track('configured');
    const t = s.take('busy', 1000);
    assert.deepEqual(s.takeIdle(1000, 500), [{ channel: 'configured', seq: 0 }], 'a configured channel beats at once');
    assert.deepEqual(s.takeIdle(1400, 500), [], 'nothing is idle for 500 ms yet');
    assert.deepEqual(s.takeIdle(1600, 500), [{ channel: 'configured', seq: 0 }], 'busy is in flight: no heartbeat may overtake its message');
    t.done();
    t.done(); // idempotent
    assert.deepEqual(s.takeIdle(1600, 500), [{ channel: 'busy', seq: 1 }]);
  });

  it('a restart starts a new stream with every seq back at 1', () => {
    const s = new L1Sequencer();
    s.take('a', 0).done();
    const first = s.stream;
    s.restart();
    assert.notEqual(s.stream, first);
    assert.equal(s.take('a', 0).seq, 1);
  });

  it('past maxChannels it starts a new stream instead of forgetting one channel and reusing its numbers', () => {
    const s = new L1Sequencer(2);
    s.take('a', 0).done();
    s.take('a', 0).done();
    s.take('b', 0).done();
    const first = s.stream;
    const c = s.take('c', 0);
    assert.notEqual(s.stream, first);
    assert.equal(c.seq, 1);
    assert.equal(s.take('a', 0).seq, 1, 'a starts again at 1, in the new stream');
  });
});
