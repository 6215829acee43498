import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseSnapshot, widenXid, xidVisibility } from './xid-snapshot';

const E = 2n ** 32n;

describe('xid snapshot', () => {
  it('parses pg_current_snapshot text', () => {
    assert.deepEqual(parseSnapshot('740:745:740,743'), { xmin: 740n, xmax: 745n, inProgress: new Set([740n, 743n]) });
    assert.deepEqual(parseSnapshot('745:745:'), { xmin: 745n, xmax: 745n, inProgress: new Set() });
    assert.throws(() => parseSnapshot('garbage'));
  });

  it('widens a 32-bit xid within the current epoch', () => {
    const snap = parseSnapshot(`${3n * E + 100n}:${3n * E + 200n}:`);
    assert.equal(widenXid(150, snap), 3n * E + 150n);
    assert.equal(widenXid(199, snap), 3n * E + 199n);
  });

  it('widens across an epoch boundary: xmax just wrapped, the xid is from the end of the previous epoch', () => {
    const snap = parseSnapshot(`${E - 20n}:${E + 5n}:${E - 10n}`);
    assert.equal(widenXid(2 ** 32 - 10, snap), E - 10n);
    assert.equal(xidVisibility(2 ** 32 - 10, snap), 'in-progress');
    assert.equal(xidVisibility(2 ** 32 - 11, snap), 'visible');
    assert.equal(widenXid(3, snap), E + 3n);
    assert.equal(xidVisibility(3, snap), 'visible');
  });

  it('reports an xid assigned after the snapshot as newer, never visible (epoch 0 and later epochs)', () => {
    const snap = parseSnapshot('1000:1005:');
    assert.equal(widenXid(1005, snap), undefined); // xmax itself was not assigned yet
    assert.equal(xidVisibility(1005, snap), 'newer');
    assert.equal(xidVisibility(1200, snap), 'newer');
    const wrapped = parseSnapshot(`${E - 3n}:${E - 2n}:`);
    assert.equal(xidVisibility(5, wrapped), 'newer'); // next epoch's xid 5 > xmax
  });

  it('follows pg_visible_in_snapshot: below xmin visible, in the xip list not, between them visible', () => {
    const snap = parseSnapshot(`${7n * E + 10n}:${7n * E + 20n}:${7n * E + 10n},${7n * E + 15n}`);
    assert.equal(xidVisibility(9, snap), 'visible');
    assert.equal(xidVisibility(10, snap), 'in-progress');
    assert.equal(xidVisibility(12, snap), 'visible');
    assert.equal(xidVisibility(15, snap), 'in-progress');
    assert.equal(xidVisibility(19, snap), 'visible');
    assert.equal(xidVisibility(20, snap), 'newer');
  });

  it('rejects values that are not 32-bit xids', () => {
    const snap = parseSnapshot('1:2:');
    assert.throws(() => widenXid(-1, snap), RangeError);
    assert.throws(() => widenXid(2 ** 32, snap), RangeError);
  });
});
