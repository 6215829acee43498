import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '@cdc/core';
import { collectConfig, explicitPolicy, parseWorkerEnv, rulesLoadOptionsFromEnv, workerEnvFromEnv } from './worker-config';

describe('worker configuration', () => {
  it('applies documented defaults', () => {
    const c = workerEnvFromEnv({});
    assert.equal(c.SOURCE, 'postgres');
    assert.equal(c.HTTP_PORT, 9464);
    assert.equal(c.BATCH_LINGER_MS, 0);
    assert.equal(c.L1_ENABLED, true);
    assert.equal(c.REDIS_DELETE_LEASES, true, 'lease deletes are on unless turned off');
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

  it('reads LOG_LEVEL in any case and names a level pino does not know', () => {
    assert.equal(workerEnvFromEnv({ LOG_LEVEL: 'DEBUG' }).LOG_LEVEL, 'debug');
    assert.equal(workerEnvFromEnv({ LOG_LEVEL: 'Trace' }).LOG_LEVEL, 'trace');
    const { problems } = parseWorkerEnv({ LOG_LEVEL: 'verbose' });
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^LOG_LEVEL="verbose": /);
  });

  it('governs explicit invalidations: keys and tags only by default, no prefixes, 1000 items', () => {
    const p = explicitPolicy(workerEnvFromEnv({}));
    assert.deepEqual([...p.allow].sort(), ['keys', 'tags']);
    assert.deepEqual(p.prefixes, []);
    assert.equal(p.maxItems, 1000);
    assert.equal(p.minPatternPrefix, 3);
    const custom = explicitPolicy(
      workerEnvFromEnv({
        EXPLICIT_INVALIDATION_KINDS: 'Keys, patterns',
        EXPLICIT_INVALIDATION_PREFIXES: 'product:, search:',
        EXPLICIT_INVALIDATION_MAX_ITEMS: '50',
        PATTERN_MIN_PREFIX: '7',
      }),
    );
    assert.deepEqual([...custom.allow].sort(), ['keys', 'patterns']);
    assert.deepEqual(custom.prefixes, ['product:', 'search:']);
    assert.equal(custom.maxItems, 50);
    assert.equal(custom.minPatternPrefix, 7);
    assert.deepEqual([...explicitPolicy(workerEnvFromEnv({ EXPLICIT_INVALIDATION_KINDS: 'none' })).allow], []);
  });

  it('names bad explicit-invalidation, pattern-floor and rules-size variables', () => {
    const { problems } = parseWorkerEnv({
      EXPLICIT_INVALIDATION_KINDS: 'keys,globs',
      EXPLICIT_INVALIDATION_MAX_ITEMS: '0',
      PATTERN_MIN_PREFIX: '0',
      RULES_MAX_BYTES: 'lots',
    });
    const text = problems.join('\n');
    assert.equal(problems.length, 4, text);
    assert.match(text, /EXPLICIT_INVALIDATION_KINDS="keys,globs": must be 'none' or a comma-separated list of keys, tags, patterns/);
    assert.match(text, /EXPLICIT_INVALIDATION_MAX_ITEMS="0"/);
    assert.match(text, /PATTERN_MIN_PREFIX="0"/);
    assert.match(text, /RULES_MAX_BYTES="lots"/);
  });

  it('gives validate and explain the rules-loading settings alone', () => {
    assert.deepEqual(rulesLoadOptionsFromEnv({}), { maxBytes: 512 * 1024, minPatternPrefix: 3 });
    assert.deepEqual(rulesLoadOptionsFromEnv({ RULES_MAX_BYTES: '2048', PATTERN_MIN_PREFIX: '1' }), { maxBytes: 2048, minPatternPrefix: 1 });
    assert.throws(() => rulesLoadOptionsFromEnv({ RULES_MAX_BYTES: '-1' }), (err: Error) => err instanceof ConfigError && /RULES_MAX_BYTES="-1"/.test(err.message));
  });
});
