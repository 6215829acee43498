import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError, Env } from '@cdc/core';
import { CompiledRules, compileRules } from '@cdc/rules';
import { loadWorkerSettings } from './worker-settings';

const rulesText = (cdn: string[]): string =>
  ['version: 1', 'rules:', '  - name: product', '    table: public.products', '    invalidate:', '      keys: ["product:{id}"]', ...cdn].join('\n');
const rules = compileRules(rulesText([]), 'plain.yaml');
const withCdn = compileRules(rulesText(['      cdn:', '        cloudflare:', '          zone: shop', '          files: ["https://shop.example.com/p/{id}"]']), 'cdn.yaml');
const PG: Env = { DATABASE_URL: 'postgres://app:pw@db:5432/shop' };

function message(env: Env, r: CompiledRules = rules): string {
  try {
    loadWorkerSettings(env, { rules: r });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('worker settings: every component read once, every bad variable in one message', () => {
  it('names three bad variables of three plugins (worker, Postgres source, Redis, CDN) in one error', () => {
    const text = message({ ...PG, HTTP_PORT: '0x10', PG_CREATE_SLOT: 'maybe', REDIS_TLS: 'sometimes', CLOUDFLARE_ZONES: 'shop=abc', CDN_MAX_ATTEMPTS: '1e4' }, withCdn);
    for (const name of ['HTTP_PORT="0x10"', 'PG_CREATE_SLOT="maybe"', 'REDIS_TLS="sometimes"', 'CDN_MAX_ATTEMPTS="1e4"', 'CLOUDFLARE_API_TOKEN: required']) {
      assert.ok(text.includes(name), `${name} in:\n${text}`);
    }
  });

  it('still names the source and Redis variables when the worker variables are bad (the rules cannot be read then)', () => {
    const text = message({ ...PG, SHUTDOWN_TIMEOUT_MS: '1.5', PG_SLOT: 'Bad-Slot', REDIS_COMMAND_TIMEOUT_MS: ' ' });
    for (const name of ['SHUTDOWN_TIMEOUT_MS="1.5"', 'PG_SLOT="Bad-Slot"', 'REDIS_COMMAND_TIMEOUT_MS=" "']) assert.ok(text.includes(name), `${name} in:\n${text}`);
  });

  it('takes $SOURCE choices from the source registry', () => {
    assert.match(message({ SOURCE: 'mysql' }), /SOURCE="mysql": expected one of postgres, kafka/);
    assert.equal(loadWorkerSettings({ ...PG }, { rules }).source.plugin.name, 'postgres');
    const kafka = loadWorkerSettings({ SOURCE: 'KAFKA', KAFKA_BROKERS: 'k:9092', KAFKA_TOPICS: 't' }, { rules });
    assert.equal(kafka.source.plugin.name, 'kafka');
  });

  it('refuses leader election for a source without it', () => {
    assert.match(message({ SOURCE: 'kafka', KAFKA_BROKERS: 'k:9092', KAFKA_TOPICS: 't', LEADER_ELECTION: 'advisory-lock' }), /LEADER_ELECTION="advisory-lock": applies to SOURCE=postgres only/);
  });

  it('reads the L1 plugin: version, heartbeats, off switch', () => {
    assert.equal(loadWorkerSettings({ ...PG }, { rules }).sinks.map((s) => s.name).join(','), 'l1-pubsub');
    assert.equal(loadWorkerSettings({ ...PG, L1_ENABLED: 'OFF' }, { rules }).sinks.length, 0);
    const text = message({ ...PG, L1_MESSAGE_VERSION: '3', L1_HEARTBEAT_INTERVAL_MS: '-5' });
    assert.match(text, /L1_MESSAGE_VERSION="3"/);
    assert.match(text, /L1_HEARTBEAT_INTERVAL_MS="-5"/);
  });

  it('reads the CDN configuration once, only when the rules name a CDN target, and fixes its aliases at boot', () => {
    assert.equal(loadWorkerSettings({ ...PG, CDN_MAX_ATTEMPTS: 'ten' }, { rules }).bootFacts.cdnAliases, undefined, 'not read without CDN rules');
    const s = loadWorkerSettings({ ...PG, CLOUDFLARE_ZONES: 'shop=abc', CLOUDFLARE_API_TOKEN: 't0ken-t0ken' }, { rules: withCdn });
    assert.deepEqual([...s.bootFacts.cdnAliases!.cloudflare], ['shop']);
    assert.deepEqual(s.bootFacts.publication, ['public.products']);
    assert.match(message({ ...PG, CLOUDFLARE_ZONES: 'blog=abc', CLOUDFLARE_API_TOKEN: 't0ken-t0ken' }, withCdn), /cloudflare zone "shop" is used by the rules but not configured/);
    assert.match(message({ ...PG, CLOUDFLARE_ZONES: 'shop=abc', CLOUDFLARE_API_TOKEN: 'x', CDN_PURGE_WORKER: 'nope' }, withCdn), /CDN_PURGE_WORKER="nope"/);
  });
});

describe('the bad values of issue 10, each refused with its variable named', () => {
  const refused = (env: Env, pattern: RegExp, r: CompiledRules = rules): void => assert.match(message({ ...PG, ...env }, r), pattern);

  it('one boolean vocabulary: TRUE, On, 1, yes are true everywhere; anything else is refused', () => {
    for (const v of ['TRUE', 'On', '1', 'yes']) {
      const s = loadWorkerSettings({ ...PG, L1_ENABLED: v, PG_CREATE_SLOT: v, REDIS_TLS: v, RULES_RELOAD: v }, { rules });
      assert.equal(s.sinks.length, 1, `L1_ENABLED=${v}`);
      assert.equal((s.source.config as { options: { createSlot: boolean } }).options.createSlot, true, `PG_CREATE_SLOT=${v}`);
      assert.equal(s.redis.tls, true);
      assert.equal(s.worker.RULES_RELOAD, true);
    }
    for (const v of ['FALSE', 'off', '0', 'No']) assert.equal(loadWorkerSettings({ ...PG, L1_ENABLED: v }, { rules }).sinks.length, 0, `L1_ENABLED=${v}`);
    refused({ L1_ENABLED: 'enabled' }, /L1_ENABLED="enabled": expected true or false/);
  });

  it('strict integers: " ", 0x10, 1e4, 1.5, +3 are refused, not converted', () => {
    for (const v of [' ', '0x10', '1e4', '1.5', '+3', '12abc']) {
      refused({ HTTP_PORT: v }, new RegExp(`HTTP_PORT=${JSON.stringify(v).replace(/[.+]/g, '\\$&')}:`));
      refused({ BATCH_MAX_EVENTS: v }, /BATCH_MAX_EVENTS=/);
      refused({ PG_MAX_BUFFERED_EVENTS: v }, /PG_MAX_BUFFERED_EVENTS=/);
      refused({ REDIS_CONNECT_TIMEOUT_MS: v }, /REDIS_CONNECT_TIMEOUT_MS=/);
    }
  });

  it('ports are 1..65535', () => {
    refused({ HTTP_PORT: '0' }, /HTTP_PORT="0": expected an integer between 1 and 65535/);
    refused({ HTTP_PORT: '65536' }, /HTTP_PORT="65536"/);
    assert.equal(loadWorkerSettings({ ...PG, HTTP_PORT: '65535' }, { rules }).worker.HTTP_PORT, 65535);
    refused({ REDIS_CLUSTER_NODES: 'a:0' }, /REDIS_CLUSTER_NODES="a:0"/);
  });

  it('URLs are parsed and validated, and a URL (it may hold a password) is never echoed', () => {
    refused({ DATABASE_URL: 'postgres://app:s3cret@db:99999/shop' }, /DATABASE_URL=\(hidden\): is not a valid URL/);
    refused({ REDIS_URL: 'http://u:s3cret@h:1' }, /REDIS_URL=\(hidden\): must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.doesNotMatch(message({ DATABASE_URL: 'postgres://app:s3cret@db:99999/shop', REDIS_URL: 'http://u:s3cret@h:1' }), /s3cret/);
    refused({ CLOUDFLARE_ZONES: 'shop=abc', CLOUDFLARE_API_TOKEN: 'tok', CLOUDFLARE_API_URL: 'ftp://x' }, /CLOUDFLARE_API_URL="ftp:\/\/x": must be a http:\/\/ or https:\/\/ URL/, withCdn);
  });

  it('an ADMIN_TOKEN with whitespace is refused (no Bearer header could match it), and never echoed', () => {
    for (const token of ['correct horse battery staple', 'abcdefgh\tijklmnopq']) {
      const text = message({ ...PG, ADMIN_TOKEN: token });
      assert.match(text, /ADMIN_TOKEN=\(hidden\): must not contain whitespace/);
      assert.ok(!text.includes(token));
    }
    assert.equal(loadWorkerSettings({ ...PG, ADMIN_TOKEN: '0123456789abcdef' }, { rules }).worker.ADMIN_TOKEN, '0123456789abcdef');
  });

  it('enums in any case, and a wrong one names its choices', () => {
    const elected = loadWorkerSettings({ ...PG, LEADER_ELECTION: 'Advisory-Lock' }, { rules }).source;
    assert.ok(elected.plugin.leadership!(elected.config), 'advisory-lock in any case turns leader election on');
    const alone = loadWorkerSettings({ ...PG }, { rules }).source;
    assert.equal(alone.plugin.leadership!(alone.config), undefined);
    refused({ LEADER_ELECTION: 'raft' }, /LEADER_ELECTION="raft": expected one of none, advisory-lock/);
    refused({ KAFKA_SASL_MECHANISM: 'gssapi', SOURCE: 'kafka', KAFKA_BROKERS: 'k:1', KAFKA_TOPICS: 't' }, /KAFKA_SASL_MECHANISM="gssapi": expected one of plain, scram-sha-256, scram-sha-512/);
  });
});
