import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseLsn } from './lsn';
import { standbyStatusFrame } from './standby-status';

describe('standbyStatusFrame', () => {
  it('is a CopyData frame holding a Standby Status Update with the exact LSN (not +1)', () => {
    const lsn = parseLsn('2/1A2B3C4D');
    const frame = standbyStatusFrame(lsn, Date.UTC(2000, 0, 1, 0, 0, 1), true);
    assert.equal(frame.length, 1 + 4 + 34);
    assert.equal(String.fromCharCode(frame[0]), 'd');
    assert.equal(frame.readInt32BE(1), 4 + 34);
    assert.equal(String.fromCharCode(frame[5]), 'r');
    assert.equal(frame.readBigUInt64BE(6), lsn, 'written');
    assert.equal(frame.readBigUInt64BE(14), lsn, 'flushed');
    assert.equal(frame.readBigUInt64BE(22), lsn, 'applied');
    // Microseconds since 2000-01-01 UTC, the protocol's epoch.
    assert.equal(frame.readBigInt64BE(30), 1_000_000n);
    assert.equal(frame[38], 1, 'reply requested');
    assert.equal(standbyStatusFrame(lsn, Date.now())[38], 0);
  });
});
