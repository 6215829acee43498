import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent } from '@cdc/core';
import { PartitionProgress } from './partition-progress';
import { Segment, SegmentBuffer } from './segment-buffer';

function events(topic: string, partition: number, offsets: number[]): ChangeEvent[] {
  return offsets.map((o) => ({ op: 'update', schema: 'public', table: 't', commitTimeMs: 0, position: `${topic}/${partition}/${o}` }));
}

describe('SegmentBuffer and PartitionProgress', () => {
  it('hands out segments in arrival order, splits them at maxEvents, and commits only contiguous completed work', () => {
    const p0 = new PartitionProgress('t', 0);
    const buffer = new SegmentBuffer();
    const s1 = new Segment(p0, p0.track('2'), events('t', 0, [0, 1, 2]));
    const s2 = new Segment(p0, p0.track('5'), events('t', 0, [3, 5])); // offset 4 was a tombstone
    buffer.push(s1);
    buffer.push(s2);
    assert.equal(buffer.size, 5);

    const a = buffer.take(2);
    assert.deepEqual(a.events.map((e) => e.position), ['t/0/0', 't/0/1']);
    const b = buffer.take(10);
    assert.deepEqual(b.events.map((e) => e.position), ['t/0/2', 't/0/3', 't/0/5']);
    assert.equal(buffer.size, 0);

    // The second read is acked first: s1 is not complete yet (its first part is unacked).
    assert.deepEqual(b.parts, [s1, s2]);
    assert.deepEqual(b.parts.map((seg) => seg.ackPart()), [false, true]);
    assert.equal(p0.complete(s2.ticket), undefined, 'no commit past unfinished s1');
    assert.deepEqual(a.parts.map((seg) => seg.ackPart()), [true]);
    assert.equal(p0.complete(s1.ticket), '6', 'commit offset = last offset of the contiguous run + 1');
    assert.equal(p0.inFlight, 0);
  });

  it('lets go of a segment as soon as it is fully handed out (the reader holds it until the ack)', () => {
    const p0 = new PartitionProgress('t', 0);
    const buffer = new SegmentBuffer();
    for (let i = 0; i < 10; i++) buffer.push(new Segment(p0, p0.track(String(2 * i + 1)), events('t', 0, [2 * i, 2 * i + 1])));
    assert.equal(buffer.heldSegments, 10);
    const a = buffer.take(5);
    assert.equal(a.parts.length, 3);
    assert.equal(buffer.heldSegments, 8, 'the third segment is handed out in part: still held');
    const b = buffer.take(100);
    assert.equal(b.events.length, 15);
    assert.equal(buffer.heldSegments, 0);
    for (const seg of [...a.parts, ...b.parts]) if (seg.ackPart()) p0.complete(seg.ticket);
    assert.equal(p0.inFlight, 0);
    assert.equal(p0.pendingCommit, '20');
  });

  it('drops the unread events of revoked partitions and ignores their completions', () => {
    const p0 = new PartitionProgress('t', 0);
    const p1 = new PartitionProgress('t', 1);
    const buffer = new SegmentBuffer();
    buffer.push(new Segment(p0, p0.track('1'), events('t', 0, [0, 1])));
    const s = new Segment(p1, p1.track('0'), events('t', 1, [0]));
    buffer.push(s);
    buffer.take(1);
    p0.revoked = true;
    assert.equal(buffer.dropWhere((p) => p.revoked), 1);
    assert.equal(buffer.size, 1);
    assert.deepEqual(buffer.take(5).events.map((e) => e.position), ['t/1/0']);
    assert.equal(p0.complete(0), undefined);
  });

  it('reports lag against the committed offset', () => {
    const p = new PartitionProgress('t', 0);
    p.highWatermark = '100';
    p.startOffset = '40';
    assert.equal(p.lag(), 60);
    p.committed = '90';
    assert.equal(p.lag(), 10);
  });
});
