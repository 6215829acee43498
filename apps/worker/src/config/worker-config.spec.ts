import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '@cdc/core';
import { collectConfig, parseWorkerEnv, workerEnvFromEnv } from './worker-config';

describe('worker configuration', () => {
  it('applies documented defaults', () => {
    const c = workerEnvFromEnv({});
    assert.equal(c.SOURCE, 'postgres');
    assert.equal(c.HTTP_PORT, 9464);
    assert.equal(c.BATCH_LINGER_MS, 0);
    assert.equal(c.L1_ENABLED, true);
    assert.equal(c.L1_MESSAGE_VERSION, 2);
    assert.equal(c.L1_HEARTBEAT_INTERVAL_MS, 1000);
  });

  it('reads the L1 message version and heartbeat interval, 0 turning heartbeats off', () => {
    const c = workerEnvFromEnv({ L1_MESSAGE_VERSION: '1', L1_HEARTBEAT_INTERVAL_MS: '0' });
    assert.equal(c.L1_MESSAGE_VERSION, 1);
    assert.equal(c.L1_HEARTBEAT_INTERVAL_MS, 0);
    const { problems } = parseWorkerEnv({ L1_MESSAGE_VERSION: '3', L1_HEARTBEAT_INTERVAL_MS: '-5' });
    assert.match(problems.join('\n'), /L1_MESSAGE_VERSION="3"/);
    assert.match(problems.join('\n'), /L1_HEARTBEAT_INTERVAL_MS="-5"/);
  });

  it('names every bad variable at once and hides the admin token', () => {
    const { problems } = parseWorkerEnv({ SOURCE: 'mysql', HTTP_PORT: 'eighty', ADMIN_TOKEN: 'short-secret' });
    assert.equal(problems.length, 3);
    assert.match(problems.join('\n'), /SOURCE="mysql"/);
    assert.match(problems.join('\n'), /HTTP_PORT="eighty"/);
    assert.match(problems.join('\n'), /ADMIN_TOKEN=\(hidden\)/);
    assert.doesNotMatch(problems.join('\n'), /short-secret/);
  });

  it('merges problems from several parsers into one error', () => {
    assert.throws(
      () =>
        collectConfig({
          a: () => {
            throw new ConfigError('DATABASE_URL: required');
          },
          b: () => {
            throw new ConfigError('REDIS_URL="x": not a redis URL');
          },
          c: () => 1,
        }),
      (err: Error) => /DATABASE_URL: required/.test(err.message) && /REDIS_URL/.test(err.message),
    );
  });
});
