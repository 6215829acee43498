import { ConfigError } from '@cdc/core';
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { postgresSourceOptionsFromEnv, resolvePostgresSourceOptions } from './postgres-source-options';

describe('postgresSourceOptionsFromEnv', () => {
  it('reads every variable', () => {
    const o = postgresSourceOptionsFromEnv({
      DATABASE_URL: 'postgres://app:secret@db:5432/shop',
      PG_SLOT: 'cache_slot',
      PG_PUBLICATION: 'cache_pub',
      PG_CREATE_SLOT: 'false',
      PG_CREATE_PUBLICATION: 'no',
      PG_PUBLICATION_TABLES: 'public.products, shop.* ,public.orders',
      PG_MESSAGE_PREFIX: 'inv',
      PG_MAX_BUFFERED_EVENTS: '5000',
      PG_STATUS_INTERVAL_MS: '2000',
    });
    assert.deepEqual(o, {
      connectionString: 'postgres://app:secret@db:5432/shop',
      slotName: 'cache_slot',
      publicationName: 'cache_pub',
      createSlot: false,
      createPublication: false,
      publicationTables: ['public.products', 'shop.*', 'public.orders'],
      messagePrefix: 'inv',
      maxBufferedEvents: 5000,
      statusIntervalMs: 2000,
      waitForVisibility: true,
      recreateLostSlot: false,
    });
    assert.equal(postgresSourceOptionsFromEnv({ DATABASE_URL: 'postgresql://h/db', PG_PUBLICATION_TABLES: 'ALL' }).publicationTables, 'all');
  });

  it('applies the declared defaults, the same as options given in code', () => {
    const o = postgresSourceOptionsFromEnv({ DATABASE_URL: 'postgres://h/db' });
    assert.deepEqual(resolvePostgresSourceOptions(o), resolvePostgresSourceOptions({ connectionString: 'postgres://h/db' }));
    const r = resolvePostgresSourceOptions(o);
    assert.equal(r.slotName, 'cdc_invalidator');
    assert.equal(r.publicationName, 'cdc_invalidator');
    assert.equal(r.createSlot, true);
    assert.equal(r.createPublication, true);
    assert.equal(r.publicationTables, undefined);
    assert.equal(r.messagePrefix, 'cache-invalidation');
    assert.equal(r.maxBufferedEvents, 20_000);
    assert.equal(r.statusIntervalMs, 10_000);
    assert.deepEqual(r.reconnect, { initialDelayMs: 200, maxDelayMs: 10_000 });
  });

  it('names every bad variable at once, without echoing the URL', () => {
    assert.throws(
      () =>
        postgresSourceOptionsFromEnv({
          PG_SLOT: 'Bad-Slot',
          PG_CREATE_SLOT: 'maybe',
          PG_PUBLICATION_TABLES: 'products',
          PG_MAX_BUFFERED_EVENTS: '-1',
          PG_STATUS_INTERVAL_MS: 'soon',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        for (const name of ['DATABASE_URL: required', 'PG_SLOT', 'PG_CREATE_SLOT', 'PG_PUBLICATION_TABLES', 'PG_MAX_BUFFERED_EVENTS', 'PG_STATUS_INTERVAL_MS']) {
          assert.ok(err.message.includes(name), `${name} in: ${err.message}`);
        }
        return true;
      },
    );
    assert.throws(() => postgresSourceOptionsFromEnv({ DATABASE_URL: 'mysql://u:pw@h/db' }), (err: Error) => !err.message.includes('pw') && /DATABASE_URL=\(hidden\): must be a postgres/.test(err.message));
  });

  it('a DATABASE_URL that pg cannot parse (port 99999, bad host) is a configuration error naming the variable, not a stack trace', () => {
    for (const url of ['postgres://app:s3cret@127.0.0.1:99999/shop', 'postgres://app:s3cret@exa mple.com/shop', 'postgres://app:s3cret@[::1/shop', 'postgres://app:s3cret@127.0.0.1:0/shop']) {
      assert.throws(
        () => postgresSourceOptionsFromEnv({ DATABASE_URL: url }),
        (err: Error) => err instanceof ConfigError && /DATABASE_URL=\(hidden\): (is not a valid URL|has port 0)/.test(err.message) && !err.message.includes('s3cret'),
        url,
      );
    }
    // Percent-encoded special characters and a socket directory are fine.
    assert.equal(postgresSourceOptionsFromEnv({ DATABASE_URL: 'postgres://app:p%40ss%2F@db:5432/shop' }).connectionString, 'postgres://app:p%40ss%2F@db:5432/shop');
    assert.ok(postgresSourceOptionsFromEnv({ DATABASE_URL: 'postgres://app:pw@/shop?host=/var/run/postgresql' }));
  });

  it('validates options given in code', () => {
    assert.throws(
      () => resolvePostgresSourceOptions({ connectionString: 'postgres://h/db', publicationName: 'My Pub', maxBufferedEvents: 0, reconnect: { initialDelayMs: 50, maxDelayMs: 10 } }),
      /publicationName .* maxBufferedEvents .* reconnect delays/,
    );
  });

  it('reads the insert-only tables and the lost-slot switch, and streams the insert-only publication only when used', () => {
    const env = postgresSourceOptionsFromEnv({
      DATABASE_URL: 'postgres://h/db',
      PG_PUBLICATION: 'pub',
      PG_ALLOW_INSERT_ONLY_TABLES: 'public.audit_log, logs.*',
      PG_RECREATE_LOST_SLOT: 'true',
    });
    assert.deepEqual(env.insertOnlyTables, ['public.audit_log', 'logs.*']);
    assert.equal(env.recreateLostSlot, true);
    const r = resolvePostgresSourceOptions(env);
    assert.deepEqual(r.publicationNames, ['pub', 'pub_insert_only']);
    assert.deepEqual(resolvePostgresSourceOptions({ connectionString: 'postgres://h/db' }).publicationNames, ['cdc_invalidator']);
    assert.throws(() => postgresSourceOptionsFromEnv({ DATABASE_URL: 'postgres://h/db', PG_ALLOW_INSERT_ONLY_TABLES: 'audit_log', PG_RECREATE_LOST_SLOT: 'sure' }), /PG_ALLOW_INSERT_ONLY_TABLES=.*PG_RECREATE_LOST_SLOT=/s);
    // A 63-character publication leaves no room for the derived name: it must be given.
    assert.throws(() => resolvePostgresSourceOptions({ connectionString: 'postgres://h/db', publicationName: 'p'.repeat(63), insertOnlyTables: ['public.a'] }), /PG_INSERT_ONLY_PUBLICATION/);
  });
});
