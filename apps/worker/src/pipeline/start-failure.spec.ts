import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError, TransientError } from '@cdc/core';
import { isTransientStartFailure } from './start-failure';

describe('isTransientStartFailure', () => {
  it('trusts typed errors, and retries what is not known to be permanent', () => {
    assert.equal(isTransientStartFailure(new TransientError('redis unavailable')), true);
    assert.equal(isTransientStartFailure(new ConfigError('wal_level')), false);
    assert.equal(isTransientStartFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isTransientStartFailure(new Error('Connection terminated due to connection timeout')), true);
  });

  it('treats Postgres authentication, missing database and undefined objects as permanent, a busy slot as transient', () => {
    const pg = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(isTransientStartFailure(pg('28P01')), false); // password authentication failed
    assert.equal(isTransientStartFailure(pg('28000')), false); // no pg_hba.conf entry
    assert.equal(isTransientStartFailure(pg('3D000')), false); // database does not exist
    assert.equal(isTransientStartFailure(pg('42704')), false); // replication slot does not exist
    assert.equal(isTransientStartFailure(pg('55006')), true); // replication slot is active
    assert.equal(isTransientStartFailure(pg('57P03')), true); // the database system is starting up
  });
});
