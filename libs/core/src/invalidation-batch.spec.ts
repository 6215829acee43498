import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { RuleMatch } from './actions';
import { InvalidationBatch } from './invalidation-batch';

function match(over: Partial<RuleMatch>): RuleMatch {
  return { rule: 'r', keys: [], tags: [], patterns: [], channels: [], cdn: [], missing: [], ...over };
}

describe('InvalidationBatch', () => {
  it('coalesces repeated keys, tags and patterns', () => {
    const b = new InvalidationBatch();
    b.addMatch(match({ keys: ['a', 'b'], tags: ['t'], patterns: ['p:*'] }));
    b.addMatch(match({ keys: ['b', 'c'], tags: ['t'], patterns: ['p:*'] }));
    assert.deepEqual([...b.keys], ['a', 'b', 'c']);
    assert.deepEqual([...b.tags], ['t']);
    assert.deepEqual([...b.patterns], ['p:*']);
  });

  it('gives each channel exactly what its matches named', () => {
    const b = new InvalidationBatch();
    b.addMatch(match({ keys: ['a'], channels: ['l1:x'] }));
    b.addMatch(match({ keys: ['b'], tags: ['t'], channels: ['l1:x', 'l1:y'] }));
    b.addMatch(match({ keys: ['z'] }));
    assert.deepEqual([...b.channels.keys()], ['l1:x', 'l1:y']);
    assert.deepEqual([...b.channels.get('l1:x')!.keys], ['a', 'b']);
    assert.deepEqual([...b.channels.get('l1:y')!.keys], ['b']);
    assert.deepEqual([...b.channels.get('l1:y')!.tags], ['t']);
    b.addMatch(match({ keys: ['c'], channels: ['l1:y'] }));
    assert.deepEqual([...b.channels.get('l1:y')!.keys], ['b', 'c'], 'a later match is seen after the payload was read');
  });

  it('a channel every match named gets the whole batch; a later match without it narrows it again', () => {
    const b = new InvalidationBatch();
    b.addMatch(match({ keys: ['a', 'b'], tags: ['t'], channels: ['l1:x'] }));
    b.addMatch(match({ keys: ['b', 'c'], patterns: ['p:*'], channels: ['l1:x'] }));
    assert.deepEqual([...b.channels.get('l1:x')!.keys], ['a', 'b', 'c']);
    assert.deepEqual([...b.channels.get('l1:x')!.tags], ['t']);
    assert.deepEqual([...b.channels.get('l1:x')!.patterns], ['p:*']);
    b.addMatch(match({ keys: ['z'] }));
    assert.deepEqual([...b.channels.get('l1:x')!.keys], ['a', 'b', 'c'], 'a key no match on l1:x named is not published there');
  });

  it('treats the same channels in another order or repeated as the same, and a CDN-only match as naming none', () => {
    const b = new InvalidationBatch();
    b.addMatch(match({ keys: ['a'], channels: ['l1:x', 'l1:y'] }));
    b.addMatch(match({ keys: ['b'], channels: ['l1:y', 'l1:x', 'l1:y'] }));
    b.addMatch(match({ cdn: [{ provider: 'cloudflare', target: 'shop', kind: 'files', value: 'https://s/p/1' }] }));
    assert.deepEqual([...b.channels.keys()], ['l1:x', 'l1:y']);
    assert.equal(b.channels.get('l1:x')!.keys, b.keys, 'a channel every match named shares the batch set');
    assert.deepEqual([...b.channels.get('l1:y')!.keys], ['a', 'b']);
  });

  it('names a channel a match named even when the match carried nothing (an empty explicit invalidation)', () => {
    const b = new InvalidationBatch();
    b.addMatch(match({ channels: ['l1:x'] }));
    assert.deepEqual([...b.channels.keys()], ['l1:x']);
    b.addMatch(match({ keys: ['k'], channels: ['l1:y'] }));
    assert.deepEqual([...b.channels.keys()], ['l1:x', 'l1:y']);
    assert.deepEqual([...b.channels.get('l1:x')!.keys], []);
    assert.deepEqual([...b.channels.get('l1:y')!.keys], ['k']);
  });

  it('deduplicates CDN purges by provider, target, kind, value and headers', () => {
    const b = new InvalidationBatch();
    const url = { provider: 'cloudflare' as const, target: 'shop', kind: 'files' as const, value: 'https://s/p/1' };
    b.addMatch(match({ cdn: [url, url, { ...url, headers: { 'CF-Device-Type': 'mobile' } }] }));
    b.addMatch(match({ cdn: [{ ...url, headers: { 'CF-Device-Type': 'mobile' } }, { ...url, target: 'blog' }] }));
    assert.equal(b.cdnCount, 3);
  });

  it('records one commit time per transaction and the last position', () => {
    const b = new InvalidationBatch();
    const ev = (position: string, t: number) => ({ op: 'update' as const, schema: 's', table: 't', commitTimeMs: t, position });
    b.addEvent(ev('0/1', 10));
    b.addEvent(ev('0/1', 10));
    b.addEvent(ev('0/2', 12));
    assert.deepEqual(b.commitTimesMs, [10, 12]);
    assert.equal(b.lastPosition, '0/2');
    assert.equal(b.eventCount, 3);
    assert.ok(b.isEmpty);
  });
});
