import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { dirname, basename } from 'node:path';
import { parse } from 'yaml';
import { loadRulesFile } from '@cdc/rules';
import { cdnConfigFromEnv, checkAliases } from '@cdc/sink-cdn';
import { workerConfigFromEnv } from '../../apps/worker/src/config/worker-config';
import { loadWorkerSettings } from '../../apps/worker/src/config/worker-settings';
import { CodeFacts, libraryReadsEnv } from './code-facts';
import { PENDING_IN_CODE } from './deploy-set';
import { readRepoFile, repoPath } from '../support/repo-files';

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  healthcheck?: unknown;
}

const compose = parse(readRepoFile('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const workers = Object.entries(services).filter(([, s]) => s.build?.target === 'runtime');
const code = new CodeFacts();

describe('docker-compose.yml', () => {
  it('has the whole stack: Postgres 15 with logical WAL, Redis 7, KRaft Kafka, Debezium, fake CDNs, both worker modes', () => {
    for (const name of ['postgres', 'redis', 'kafka', 'debezium', 'fake-cdn', 'worker-postgres', 'worker-kafka']) assert.ok(services[name], `service ${name}`);
    assert.equal(services.postgres.image, 'postgres:15');
    assert.ok(services.postgres.command?.includes('wal_level=logical'), 'postgres runs with wal_level=logical');
    assert.match(services.redis.image ?? '', /^redis:7/);
    // The broker version the tests run (scripts/kafka/start-kafka.sh), so compose runs what was tested with kafkajs.
    const tested = /KAFKA_VERSION="\$\{KAFKA_VERSION:-([^}]+)\}"/.exec(readRepoFile('scripts', 'kafka', 'start-kafka.sh'))?.[1];
    assert.equal(services.kafka.image, `apache/kafka:${tested}`);
    assert.match(services.kafka.environment?.KAFKA_PROCESS_ROLES ?? '', /controller/, 'KRaft: the broker is its own controller');
    // Debezium of the minor version the tests run (scripts/kafka/start-debezium.sh).
    const debezium = /DEBEZIUM_VERSION="\$\{DEBEZIUM_VERSION:-(\d+\.\d+)/.exec(readRepoFile('scripts', 'kafka', 'start-debezium.sh'))?.[1];
    assert.equal(services.debezium.image, `quay.io/debezium/connect:${debezium}`);
    assert.deepEqual(services['worker-postgres'].profiles, ['postgres']);
    assert.deepEqual(services['worker-kafka'].profiles, ['kafka']);
    assert.equal(workers.length, 2, 'two services run the worker image');
  });

  it('dependencies exist and are started in every profile that needs them', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) {
        assert.ok(services[dep], `${name} depends on unknown ${dep}`);
        const depProfiles = services[dep].profiles;
        if (!depProfiles) continue;
        assert.ok(s.profiles?.every((p) => depProfiles.includes(p)), `${name} (profiles ${s.profiles}) depends on ${dep}, which only runs in ${depProfiles}`);
      }
    }
  });

  it('every variable set on a worker is one the code reads', (t) => {
    const pending = new Set<string>();
    for (const [name, s] of workers) {
      for (const variable of Object.keys(s.environment ?? {})) {
        if (code.filesReadingEnv(variable).length > 0 || libraryReadsEnv(variable)) continue;
        assert.ok(PENDING_IN_CODE.env.has(variable), `${name}: ${variable} is not read by the code`);
        pending.add(variable);
      }
    }
    if (pending.size) t.diagnostic(`set but not read by the code yet: ${[...pending].join(', ')}`);
  });

  it('each worker\'s environment passes the worker\'s own validation and runs `run`', () => {
    for (const [name, s] of workers) {
      const env = { ...s.environment };
      const worker = workerConfigFromEnv(env);
      const rules = loadRulesFile(repoPath('examples', basename(worker.RULES_FILE)));
      assert.equal(loadWorkerSettings(env, { rules }).source.plugin.name, name.replace('worker-', ''), name);
      assert.deepEqual(s.command, ['run']);
      assert.ok(code.cliCommands().has(s.command![0]));
    }
  });

  it('workers reach the services their URLs name, on the ports those services listen on', () => {
    const kafkaPorts = (services.kafka.environment?.KAFKA_ADVERTISED_LISTENERS ?? '').split(',').map((l) => new URL(l.replace(/^[A-Z_]+:/, 'x:')));
    for (const [name, s] of workers) {
      const env = s.environment ?? {};
      const pg = env.DATABASE_URL ? new URL(env.DATABASE_URL) : undefined;
      if (pg) {
        assert.ok(services[pg.hostname] && (pg.port || '5432') === '5432', `${name}: DATABASE_URL host`);
        assert.equal(pg.pathname.slice(1), services[pg.hostname].environment?.POSTGRES_DB, `${name}: database name`);
        assert.equal(decodeURIComponent(pg.password), services[pg.hostname].environment?.POSTGRES_PASSWORD);
      }
      const redis = new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      assert.ok(services[redis.hostname]?.image?.startsWith('redis:') && (redis.port || '6379') === '6379', `${name}: REDIS_URL`);
      for (const broker of (env.KAFKA_BROKERS ?? '').split(',').filter(Boolean)) {
        assert.ok(kafkaPorts.some((u) => `${u.hostname}:${u.port}` === broker), `${name}: ${broker} is not an advertised Kafka listener`);
      }
      const cdn = services['fake-cdn'].environment ?? {};
      assert.equal(new URL(env.CLOUDFLARE_API_URL).host, `fake-cdn:${cdn.FAKE_CLOUDFLARE_PORT}`, `${name}: CLOUDFLARE_API_URL`);
      assert.equal(new URL(env.CLOUDFRONT_ENDPOINT).host, `fake-cdn:${cdn.FAKE_CLOUDFRONT_PORT}`, `${name}: CLOUDFRONT_ENDPOINT`);
      assert.equal(env.CLOUDFLARE_API_TOKEN, cdn.FAKE_CLOUDFLARE_TOKEN, `${name}: the fake Cloudflare accepts the worker's token`);
      const port = workerConfigFromEnv(env).HTTP_PORT;
      assert.ok(s.ports?.some((p) => p.endsWith(`:${port}`)), `${name}: HTTP_PORT ${port} is published`);
    }
  });

  it('workers mount examples/ as the rules directory; the rules compile and their CDN aliases are configured', () => {
    for (const [name, s] of workers) {
      const env = s.environment ?? {};
      const rulesFile = workerConfigFromEnv(env).RULES_FILE;
      const mount = s.volumes?.map((v) => v.split(':')).find(([, target]) => target === dirname(rulesFile));
      assert.ok(mount, `${name}: nothing mounted at ${dirname(rulesFile)} (a directory mount, so edits hot-reload)`);
      assert.equal(mount[0], './examples');
      assert.equal(mount[2], 'ro');
      const rules = loadRulesFile(repoPath('examples', basename(rulesFile)));
      const aliases = [
        ...rules.cdnAliases.cloudflare.map((target) => ({ provider: 'cloudflare' as const, target })),
        ...rules.cdnAliases.cloudfront.map((target) => ({ provider: 'cloudfront' as const, target })),
      ];
      assert.deepEqual(checkAliases(aliases, cdnConfigFromEnv(env)), [], name);
    }
  });

  it('workers run hardened like the Kubernetes pods', () => {
    const uid = /^USER\s+(\d+)/m.exec(readRepoFile('Dockerfile'))?.[1];
    for (const [name, s] of workers) {
      assert.equal(s.user?.split(':')[0], uid, `${name}: runs as the image's user`);
      assert.equal(s.read_only, true, `${name}: read-only root filesystem`);
      assert.deepEqual(s.cap_drop, ['ALL'], `${name}: capabilities`);
    }
  });

  it('Debezium captures the tables the Kafka worker consumes, in the encoding it decodes', () => {
    const connector = JSON.parse(readRepoFile('deploy', 'compose', 'debezium-postgres.json')) as Record<string, string>;
    const register = services['debezium-register'];
    assert.ok(register?.volumes?.some((v) => v.startsWith('./deploy/compose/debezium-postgres.json:')), 'the connector config is mounted for registration');
    assert.ok(register.command?.some((c) => c.includes('debezium-postgres.json')));
    assert.equal(connector['connector.class'], 'io.debezium.connector.postgresql.PostgresConnector');
    assert.equal(connector['plugin.name'], 'pgoutput');
    assert.equal(connector['decimal.handling.mode'], 'string', 'numeric columns arrive as strings, like the Postgres source');
    assert.equal(connector['skipped.operations'], 'none', 'Debezium skips truncates unless told not to');
    assert.ok(services[connector['database.hostname']], 'database.hostname is a compose service');
    assert.equal(connector['database.dbname'], services.postgres.environment?.POSTGRES_DB);
    const env = services['worker-kafka'].environment ?? {};
    assert.equal(env.KAFKA_TOPIC_PREFIX, connector['topic.prefix']);
    const tables = new Set(connector['table.include.list'].split(','));
    for (const topic of (env.KAFKA_TOPICS ?? '').split(',')) {
      assert.ok(topic.startsWith(`${connector['topic.prefix']}.`) && tables.has(topic.slice(connector['topic.prefix'].length + 1)), `${topic} is not a captured table's topic`);
    }
    assert.equal(services.debezium.environment?.BOOTSTRAP_SERVERS, env.KAFKA_BROKERS);
  });

  it('the fake CDN service runs the repository\'s fake servers with variables its entry script reads', () => {
    const s = services['fake-cdn'];
    const script = readRepoFile('deploy', 'compose', 'fake-cdn.js');
    assert.ok(s.volumes?.some((v) => v.startsWith('./deploy/compose/fake-cdn.js:')));
    assert.equal(s.build?.target, 'build', 'the runtime image has no test servers');
    for (const variable of Object.keys(s.environment ?? {})) assert.ok(script.includes(`'${variable}'`) || script.includes(`env.${variable}`), `fake-cdn.js does not read ${variable}`);
    assert.match(script, /libs\/testing\/src\/fake-cdn/);
  });
});
