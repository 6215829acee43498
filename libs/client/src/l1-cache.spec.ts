import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { globEscape } from '@cdc/protocol';
import { L1Cache, L1Entry, L1_MISS } from './l1-cache';

const NOW = Date.now();

function entry(value: unknown, tags: string[] = [], size = 10, ttl = 10_000): L1Entry {
  return { value, negative: false, tags, expiresAt: NOW + ttl, staleUntil: NOW + ttl, size };
}

function cache(maxEntries = 100, maxBytes = 10_000, maxTtlMs = 60_000): L1Cache {
  return new L1Cache({ maxEntries, maxBytes, maxTtlMs });
}

describe('L1Cache', () => {
  it('is bounded by entries and by bytes', () => {
    const byCount = cache(3);
    for (let i = 0; i < 10; i++) byCount.store(`k${i}`, entry(i), NOW);
    assert.equal(byCount.size, 3);
    assert.equal(byCount.peek('k9')?.value, 9);
    assert.equal(byCount.peek('k0'), undefined);

    const byBytes = cache(100, 250);
    for (let i = 0; i < 10; i++) byBytes.store(`k${i}`, entry(i, [], 100), NOW);
    assert.ok(byBytes.bytes <= 250, `bytes ${byBytes.bytes}`);
    assert.equal(byBytes.size, 2);
    assert.equal(byBytes.store('huge', entry('x', [], 251), NOW), false, 'an entry bigger than the cache is not stored');
  });

  it('evicts by tag through the tag index, and the index follows evictions and overwrites', () => {
    const c = cache();
    c.store('a', entry(1, ['t1', 't2']), NOW);
    c.store('b', entry(2, ['t2']), NOW);
    c.store('c', entry(3, ['t3']), NOW);
    c.evictTags(['t2']);
    assert.equal(c.peek('a'), undefined);
    assert.equal(c.peek('b'), undefined);
    assert.equal(c.peek('c')?.value, 3);
    // c re-stored without its tag: a later t3 eviction must not touch it
    c.store('c', entry(4, []), NOW);
    c.evictTags(['t3']);
    assert.equal(c.peek('c')?.value, 4);
  });

  it('evicts by pattern with the worker’s glob semantics, escapes included', () => {
    const c = cache();
    for (const k of ['search:1', 'search:2', 'searchx', 'a*b', 'axb']) c.store(k, entry(k), NOW);
    c.evictPatterns(['search:*', globEscape('a*b')]);
    assert.deepEqual(['search:1', 'search:2', 'searchx', 'a*b', 'axb'].filter((k) => c.peek(k)), ['searchx', 'axb']);
  });

  it('never keeps an entry past maxTtlMs, whatever its TTL', async () => {
    const c = cache(100, 10_000, 30);
    const now = Date.now();
    c.store('k', { ...entry('v'), expiresAt: now + 3_600_000, staleUntil: now + 3_600_000 }, now);
    assert.equal(c.peek('k')?.value, 'v');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(c.peek('k'), undefined);
  });

  for (const prefix of ['', 'app:']) {
    it(`does not store a fill that an invalidation of its key, tag or pattern, or a flush, overtook (key prefix ${JSON.stringify(prefix)})`, () => {
      const c = new L1Cache({ maxEntries: 100, maxBytes: 10_000, maxTtlMs: 60_000, keyPrefix: prefix });
      const p = (k: string): string => prefix + k;
      const cases: Array<[string, string[] | undefined, (c: L1Cache) => void]> = [
        ['k1', ['t'], (c) => c.evictKeys([p('k1')])],
        ['k2', ['t'], (c) => c.evictTags(['t'])],
        ['k3', undefined, (c) => c.evictTags(['any'])], // tags not known yet: any tag eviction cancels
        ['user:3', [], (c) => c.evictPatterns([p('user:*')])],
        ['k5', [], (c) => c.flush()],
      ];
      for (const [key, tags, invalidate] of cases) {
        const fill = c.beginFill(p(key), tags);
        invalidate(c);
        assert.equal(c.commitFill(fill, entry('old', tags ?? []), NOW), false, key);
        assert.equal(c.peek(p(key)), undefined, key);
      }
      const untouched = c.beginFill(p('k6'), ['t6']);
      c.evictKeys([p('other')]);
      c.evictTags(['t-other']);
      c.evictPatterns([p('nothing:*')]);
      assert.equal(c.commitFill(untouched, entry('v', ['t6']), NOW), true);
      assert.equal(c.peek(p('k6'))?.value, 'v');
      c.abandonFill(c.beginFill(p('k7'), []));
      assert.equal((c as unknown as { pending: Map<string, unknown> }).pending.size, 0, 'every fill ended, committed or abandoned, is forgotten');
    });
  }

  it('serves only fresh entries on the hit path; an expired entry kept for grace is visible to peek only, until its grace ends', async () => {
    const c = cache();
    const now = Date.now();
    c.store('plain', entry({ v: 1 }), now);
    c.store('negative', { ...entry(undefined), negative: true }, now);
    c.store('graced', { ...entry('old'), expiresAt: now - 1, staleUntil: now + 40 }, now);
    assert.deepEqual(c.freshLocal('plain'), { v: 1 });
    assert.equal(c.freshLocal('negative'), undefined, 'a negative entry is a hit whose value is undefined');
    assert.equal(c.peek('negative')?.negative, true);
    assert.equal(c.freshLocal('absent'), L1_MISS);
    assert.equal(c.freshLocal('graced'), L1_MISS, 'past its expiry: not a hit');
    assert.deepEqual(c.peek('graced'), { value: 'old', negative: false, fresh: false });
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(c.peek('graced'), undefined, 'gone at the end of its grace');
  });

  it('with a key prefix: keyed without it for hits, full keys everywhere else (keys, tags, patterns, fills)', () => {
    const c = new L1Cache({ maxEntries: 100, maxBytes: 10_000, maxTtlMs: 60_000, keyPrefix: 'app:' });
    for (const k of ['user:1', 'user:2', 'order:1']) c.store(`app:${k}`, entry(k, [`t-${k}`]), NOW);
    assert.equal(c.store('other:user:1', entry('x'), NOW), false, 'a key outside the prefix is never stored');
    assert.equal(c.freshLocal('user:1'), 'user:1');
    assert.equal(c.peek('app:user:1')?.value, 'user:1');
    c.evictKeys(['user:2', 'app:order:1']); // the first is not a full key of this client: nothing happens
    assert.equal(c.freshLocal('user:2'), 'user:2');
    assert.equal(c.freshLocal('order:1'), L1_MISS);
    c.evictPatterns(['app:user:*']);
    assert.equal(c.size, 0, 'the pattern matched the full keys');
    c.store('app:user:3', entry('v', ['t3']), NOW);
    c.evictTags(['t3']);
    assert.equal(c.freshLocal('user:3'), L1_MISS);
    const fill = c.beginFill('app:user:4', ['t4']);
    c.evictPatterns(['app:*']);
    assert.equal(c.commitFill(fill, entry('old', ['t4']), NOW), false, 'a pattern on full keys cancels a fill in flight');
    assert.equal(c.commitFill(c.beginFill('elsewhere', []), entry('v'), NOW), false);
  });
});
