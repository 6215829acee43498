import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '@cdc/core';
import { explicitPolicy, explicitPolicyFromEnv, rulesLoadOptionsFromEnv, workerConfigFromEnv } from './worker-config';

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('worker configuration', () => {
  it('applies documented defaults', () => {
    const c = workerConfigFromEnv({});
    assert.equal(c.HTTP_PORT, 9464);
    assert.equal(c.BATCH_LINGER_MS, 0);
    assert.equal(c.REDIS_DELETE_LEASES, false, 'protocol-1 lease-key deletes are off unless turned on for a rolling upgrade');
    assert.equal(c.RULES_RELOAD, true);
    assert.equal(c.ADMIN_TOKEN, undefined);
  });

  it('names every bad variable at once and hides the admin token', () => {
    const text = problems(() => workerConfigFromEnv({ HTTP_PORT: 'eighty', BATCH_MAX_EVENTS: '0', ADMIN_TOKEN: 'short-secret' }));
    assert.match(text, /HTTP_PORT="eighty"/);
    assert.match(text, /BATCH_MAX_EVENTS="0"/);
    assert.match(text, /ADMIN_TOKEN=\(hidden\)/);
    assert.doesNotMatch(text, /short-secret/);
  });

  it('reads LOG_LEVEL in any case and names a level pino does not know', () => {
    assert.equal(workerConfigFromEnv({ LOG_LEVEL: 'DEBUG' }).LOG_LEVEL, 'debug');
    assert.equal(workerConfigFromEnv({ LOG_LEVEL: 'Trace' }).LOG_LEVEL, 'trace');
    assert.match(problems(() => workerConfigFromEnv({ LOG_LEVEL: 'verbose' })), /LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent/);
  });

  it('governs explicit invalidations: keys and tags only by default, no prefixes, 1000 items', () => {
    const p = explicitPolicy(workerConfigFromEnv({}));
    assert.deepEqual([...p.allow].sort(), ['keys', 'tags']);
    assert.deepEqual(p.prefixes, []);
    assert.equal(p.maxItems, 1000);
    assert.equal(p.minPatternPrefix, 3);
    const custom = explicitPolicy(
      workerConfigFromEnv({
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
    assert.deepEqual([...explicitPolicy(workerConfigFromEnv({ EXPLICIT_INVALIDATION_KINDS: 'none' })).allow], []);
    assert.deepEqual(explicitPolicyFromEnv({ EXPLICIT_INVALIDATION_KINDS: 'tags' }).allow, new Set(['tags']));
  });

  it('names bad explicit-invalidation, pattern-floor and rules-size variables', () => {
    const text = problems(() =>
      workerConfigFromEnv({
        EXPLICIT_INVALIDATION_KINDS: 'keys,globs',
        EXPLICIT_INVALIDATION_MAX_ITEMS: '0',
        PATTERN_MIN_PREFIX: '0',
        RULES_MAX_BYTES: 'lots',
      }),
    );
    assert.match(text, /EXPLICIT_INVALIDATION_KINDS="keys,globs": must be 'none' or a comma-separated list of keys, tags, patterns/);
    assert.match(text, /EXPLICIT_INVALIDATION_MAX_ITEMS="0"/);
    assert.match(text, /PATTERN_MIN_PREFIX="0"/);
    assert.match(text, /RULES_MAX_BYTES="lots"/);
    assert.equal(text.split('\n').length, 5, text);
  });

  it('gives validate and explain the rules-loading settings alone', () => {
    assert.deepEqual(rulesLoadOptionsFromEnv({}), { maxBytes: 512 * 1024, minPatternPrefix: 3 });
    assert.deepEqual(rulesLoadOptionsFromEnv({ RULES_MAX_BYTES: '2048', PATTERN_MIN_PREFIX: '1' }), { maxBytes: 2048, minPatternPrefix: 1 });
    assert.match(problems(() => rulesLoadOptionsFromEnv({ RULES_MAX_BYTES: '-1' })), /RULES_MAX_BYTES="-1"/);
  });
});
