import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { canonicalLsn, formatLsn, parseLsn } from './lsn';

describe('lsn', () => {
  it('parses both halves as hex and prints them the way Postgres does', () => {
    assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
    assert.equal(parseLsn('1/0'), 1n << 32n);
    assert.equal(formatLsn(parseLsn('A/FFFFFFFF')), 'A/FFFFFFFF');
    assert.equal(canonicalLsn('00000000/016B3748'), '0/16B3748');
  });

  it('orders numerically, not as text', () => {
    assert.ok(parseLsn('10/0') > parseLsn('9/FFFFFFFF'));
    assert.ok(parseLsn('1/0') > parseLsn('0/FFFFFFFF'));
    assert.ok(parseLsn('0/9') < parseLsn('0/10'));
  });

  it('rejects what is not an LSN', () => {
    assert.throws(() => parseLsn('16B3748'), /not an LSN/);
    assert.throws(() => parseLsn('0/XYZ'), /not an LSN/);
  });
});
