import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DatabaseFacts, RuleForCheck, TableFacts, checkRules } from './rules-database-check';
import { matchTables } from './table-names';

const at = (line: number, column = 1) => ({ file: 'r.yaml', line, column });

function table(name: string, columns: string[], identity: TableFacts['replicaIdentity'], identityColumns: string[]): TableFacts {
  return { name, columns, replicaIdentity: identity, identityColumns: identity === 'full' ? columns : identityColumns };
}

const facts: DatabaseFacts = {
  publicationName: 'pub',
  publishedTables: new Set(['public.users', 'public.items']),
  tables: new Map([
    ['public.users', table('public.users', ['id', 'email', 'org_id'], 'default', ['id'])],
    ['public.items', table('public.items', ['sku', 'name'], 'full', [])],
    ['shop.orders', table('shop.orders', ['id'], 'nothing', [])],
  ]),
};

function rule(r: Partial<RuleForCheck>): RuleForCheck {
  return { name: 'r', tables: [], ops: ['insert', 'update', 'delete'], location: at(1), columns: [], changedColumns: [], ...r };
}

describe('checkRules', () => {
  it('warns where the old value is not logged: before.x, {x} on delete, changed: [x]', () => {
    const problems = checkRules(
      {
        rules: [
          rule({
            tables: ['public.users'],
            columns: [
              { column: 'id', side: 'before', template: 'u:{before.id}', location: at(2) },
              { column: 'email', side: 'before', template: 'u:{before.email}', location: at(3) },
              { column: 'org_id', side: 'current', template: 'o:{org_id}', location: at(4) },
              { column: 'email', side: 'after', template: 'u:{after.email}', location: at(5) },
            ],
            changedColumns: ['email'],
          }),
          // Insert-only and FULL tables need no old values.
          rule({ tables: ['public.users'], ops: ['insert'], columns: [{ column: 'email', side: 'current', template: '{email}', location: at(8) }] }),
          rule({ tables: ['public.items'], columns: [{ column: 'name', side: 'before', template: '{before.name}', location: at(9) }] }),
        ],
      },
      facts,
    );
    assert.deepEqual(
      problems.map((p) => [p.line, p.severity, p.message.replace(/ but .*/, '')]),
      [
        [1, 'warning', `rule 'r': changed: [email] reads the old value of "email"`],
        [3, 'warning', `rule 'r': u:{before.email} reads the old value of "email"`],
        [4, 'warning', `rule 'r': o:{org_id} on delete reads the old value of "org_id"`],
      ],
    );
    assert.match(problems[0].message, /REPLICA IDENTITY DEFAULT: old value not logged; set REPLICA IDENTITY FULL on public\.users$/);
  });

  it('errors on missing tables and columns; globs only warn; unpublished tables warn', () => {
    const problems = checkRules(
      {
        rules: [
          rule({ tables: ['public.nope'], location: at(1) }),
          rule({ tables: ['public.i*'], location: at(2), columns: [{ column: 'id', side: 'current', template: '{id}', location: at(3) }] }),
          rule({ tables: ['nowhere.*'], location: at(4) }),
          rule({ tables: ['shop.orders'], ops: ['insert'], location: at(5), columns: [{ column: 'total', side: 'current', template: '{total}', location: at(6) }] }),
        ],
      },
      facts,
    );
    assert.deepEqual(
      problems.map((p) => `${p.line}:${p.severity}:${p.message}`),
      [
        `1:error:rule 'r': table public.nope does not exist`,
        `3:warning:rule 'r': column "id" does not exist in public.items (matched by public.i*) ({id})`,
        `4:warning:rule 'r': no table matches nowhere.*`,
        `5:warning:rule 'r': shop.orders is not in publication "pub": its changes are not streamed`,
        `5:error:rule 'r': table shop.orders has no replica identity (REPLICA IDENTITY NOTHING): publishing it for update/delete in "pub" makes Postgres reject the application's UPDATE and DELETE on it. Fix: add a primary key, or ALTER TABLE shop.orders REPLICA IDENTITY FULL, or ALTER TABLE shop.orders REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns>; or, if only its inserts matter, allow insert-only publication with PG_ALLOW_INSERT_ONLY_TABLES=shop.orders`,
        `6:error:rule 'r': column "total" does not exist in shop.orders ({total})`,
      ],
    );
  });
});

describe('checkRules: tables without replica identity', () => {
  const noIdentity: DatabaseFacts = {
    publicationName: 'pub',
    publishedTables: new Set(),
    tables: new Map([
      ['public.log', table('public.log', ['a'], 'default', [])],
      ['public.moved', table('public.moved', ['a'], 'index', [])],
      ['public.events', table('public.events', ['a'], 'default', [])],
      ['public.ok', table('public.ok', ['id'], 'index', ['id'])],
    ]),
  };

  it('errors for no primary key and for a dropped identity index, whatever the rule reacts to; a usable index is fine', () => {
    const problems = checkRules(
      { rules: [rule({ tables: ['public.log'], ops: ['insert'], location: at(1) }), rule({ tables: ['public.moved', 'public.ok'], location: at(2) })] },
      noIdentity,
    ).filter((p) => p.severity === 'error');
    assert.deepEqual(
      problems.map((p) => `${p.line}:${p.message.replace(/: publishing.*/, '')}`),
      [
        `1:rule 'r': table public.log has no replica identity (no primary key (REPLICA IDENTITY DEFAULT))`,
        `2:rule 'r': table public.moved has no replica identity (REPLICA IDENTITY USING INDEX names an index that no longer exists)`,
      ],
    );
    assert.match(problems[0].message, /add a primary key, or ALTER TABLE public\.log REPLICA IDENTITY FULL, or ALTER TABLE public\.log REPLICA IDENTITY USING INDEX/);
  });

  it('only warns for a table allowed insert-only, and says that its updates and deletes fire no rule', () => {
    const problems = checkRules({ rules: [rule({ tables: ['public.events'], location: at(3) })] }, { ...noIdentity, insertOnlyTables: ['public.ev*'] });
    assert.deepEqual(
      problems.map((p) => `${p.severity}:${p.message}`).filter((m) => !m.includes('not in publication')),
      [`warning:rule 'r': public.events has no replica identity (no primary key (REPLICA IDENTITY DEFAULT)) and is published for inserts and truncates only (PG_ALLOW_INSERT_ONLY_TABLES): its updates and deletes fire no rule`],
    );
  });
});

describe('matchTables', () => {
  it('matches exact names and globs within one part', () => {
    const existing = ['public.a', 'public.ab', 'shop.a', 'public.b'];
    assert.deepEqual(matchTables(['public.a', 'public.a*', '*.a', 'public.?', 'x.y'], existing), [
      { pattern: 'public.a', tables: ['public.a'] },
      { pattern: 'public.a*', tables: ['public.a', 'public.ab'] },
      { pattern: '*.a', tables: ['public.a', 'shop.a'] },
      { pattern: 'public.?', tables: ['public.a', 'public.b'] },
      { pattern: 'x.y', tables: [] },
    ]);
  });
});
