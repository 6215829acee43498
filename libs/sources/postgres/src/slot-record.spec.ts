import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SlotRecord, lostSlotMessage, recordApplies } from './slot-record';

const record: SlotRecord = {
  slot: 'cdc',
  systemIdentifier: '7311',
  database: 'shop',
  firstSeenLsn: '0/1000',
  firstSeenAt: '2026-12-01T10:00:00.000Z',
  confirmedLsn: '0/2000',
  updatedAt: '2026-12-01T11:00:00.000Z',
};

describe('slot record', () => {
  it('applies to the same cluster and database only (a restore into a new cluster is a first start)', () => {
    assert.equal(recordApplies(record, { systemIdentifier: '7311', database: 'shop', exists: false }), true);
    assert.equal(recordApplies(record, { systemIdentifier: '9999', database: 'shop', exists: false }), false);
    assert.equal(recordApplies(record, { systemIdentifier: '7311', database: 'other', exists: false }), false);
    // A role that may not read pg_control_system(): the database name decides.
    assert.equal(recordApplies(record, { database: 'shop', exists: false }), true);
  });

  it('says what was lost and how to recover', () => {
    const m = lostSlotMessage(record, 'Redis key cdc:slot:cdc');
    assert.match(m, /replication slot "cdc" is gone, but this worker streamed it before \(Redis key cdc:slot:cdc: database shop, first seen at 0\/1000/);
    assert.match(m, /last confirmed 0\/2000/);
    assert.match(m, /PG_RECREATE_LOST_SLOT=true.*cdc-invalidator backfill postgres --table/);
  });
});
