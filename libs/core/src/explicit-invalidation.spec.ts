import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEFAULT_EXPLICIT_POLICY, ExplicitInvalidationPolicy, ExplicitKind, parseExplicitInvalidation } from './explicit-invalidation';
import { metricsRegistry } from './metrics';

const policy = (p: Partial<ExplicitInvalidationPolicy> & { kinds?: ExplicitKind[] }): ExplicitInvalidationPolicy => ({
  ...DEFAULT_EXPLICIT_POLICY,
  ...(p.kinds ? { allow: new Set(p.kinds) } : {}),
  ...p,
});

async function refusedCount(source: string, refusal: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('cdc_explicit_invalidations_refused_total')!.get();
  return metric.values.find((v) => v.labels.source === source && v.labels.refusal === refusal)?.value ?? 0;
}

describe('explicit invalidation policy (issue 8 part 2)', () => {
  it('by default allows keys and tags and refuses any pattern, counting the refusal', async () => {
    assert.deepEqual(parseExplicitInvalidation({ keys: ['a'], tags: ['t'] }, DEFAULT_EXPLICIT_POLICY, 'postgres'), {
      ok: true,
      explicit: { keys: ['a'], tags: ['t'], patterns: [] },
    });
    const before = await refusedCount('postgres', 'kind-not-allowed');
    // The probe that wiped Redis: SELECT pg_logical_emit_message(true, 'cache-invalidation', '{"patterns":["*"]}').
    const r = parseExplicitInvalidation({ patterns: ['*'] }, DEFAULT_EXPLICIT_POLICY, 'postgres');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.refusal, 'kind-not-allowed');
      assert.match(r.reason, /may not carry patterns/);
    }
    assert.equal(await refusedCount('postgres', 'kind-not-allowed'), before + 1);
  });

  it('refuses a message with a kind that is not allowed whole, never applying the allowed part', () => {
    const r = parseExplicitInvalidation({ keys: ['a'], tags: ['t'] }, policy({ kinds: ['keys'] }));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /may not carry tags \(EXPLICIT_INVALIDATION_KINDS allows keys\)/);
    const none = parseExplicitInvalidation({ keys: ['a'] }, policy({ kinds: [] }));
    assert.equal(none.ok, false);
    if (!none.ok) assert.match(none.reason, /allows nothing/);
  });

  it('with patterns allowed, still holds every pattern to the literal-prefix floor', () => {
    const p = policy({ kinds: ['keys', 'tags', 'patterns'], minPatternPrefix: 4 });
    assert.equal(parseExplicitInvalidation({ patterns: ['search:*'] }, p).ok, true);
    for (const wide of ['*', 'abc*', '?', '[a-z]*']) {
      const r = parseExplicitInvalidation({ patterns: [wide] }, p);
      assert.equal(r.ok, false, wide);
      if (!r.ok) assert.equal(r.refusal, 'below-pattern-floor');
    }
    assert.equal(parseExplicitInvalidation({ patterns: ['ab'] }, p).ok, true, 'a pattern without glob characters names one key');
  });

  it('requires every key, tag and pattern to start with an allowed prefix, when prefixes are configured', () => {
    const p = policy({ kinds: ['keys', 'tags', 'patterns'], prefixes: ['product:', 'catalog'] });
    assert.equal(parseExplicitInvalidation({ keys: ['product:1'], tags: ['catalog-2'], patterns: ['product:list:*'] }, p).ok, true);
    const cases: Array<[object, RegExp]> = [
      [{ keys: ['product:1', 'cdc:outbox'] }, /keys entry "cdc:outbox" does not start with an allowed prefix \(EXPLICIT_INVALIDATION_PREFIXES=product:,catalog\)/],
      [{ tags: ['other'] }, /tags entry "other"/],
      // The literal prefix decides: `pro*` would match keys outside `product:`.
      [{ patterns: ['pro*'] }, /patterns entry "pro\*"/],
    ];
    for (const [body, reason] of cases) {
      const r = parseExplicitInvalidation(body, p);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.refusal, 'prefix-not-allowed');
        assert.match(r.reason, reason);
      }
    }
  });

  it('caps the items of one message', () => {
    const p = policy({ maxItems: 3 });
    assert.equal(parseExplicitInvalidation({ keys: ['a', 'b'], tags: ['c'] }, p).ok, true);
    const r = parseExplicitInvalidation({ keys: ['a', 'b'], tags: ['c', 'd'] }, p);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.refusal, 'too-many-items');
      assert.match(r.reason, /4 items, more than EXPLICIT_INVALIDATION_MAX_ITEMS=3/);
    }
  });

  it('still refuses a malformed body, counted as malformed', async () => {
    const before = await refusedCount('kafka', 'malformed');
    const r = parseExplicitInvalidation({ key: ['typo'] }, DEFAULT_EXPLICIT_POLICY, 'kafka');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.refusal, 'malformed');
    assert.equal(await refusedCount('kafka', 'malformed'), before + 1);
  });
});
