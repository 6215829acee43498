import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { addedTopics, selectTopics } from './topic-subscription';

describe('topic subscription', () => {
  it('keeps the listed topics that exist, and only those', () => {
    assert.deepEqual(selectTopics(['cdc.public.b', 'other', 'cdc.public.a'], { topics: ['cdc.public.a', 'cdc.public.b', 'cdc.public.c'] }), ['cdc.public.a', 'cdc.public.b']);
    assert.deepEqual(selectTopics([], { topics: ['x'] }), []);
  });

  it('matches a pattern against every existing topic, also a stateful /g pattern', () => {
    const existing = ['cdc.public.a', 'cdc.public.b', '__consumer_offsets', 'cdc-dlq'];
    assert.deepEqual(selectTopics(existing, { topicPattern: /^cdc\./ }), ['cdc.public.a', 'cdc.public.b']);
    assert.deepEqual(selectTopics(existing, { topicPattern: /^cdc\./g }), ['cdc.public.a', 'cdc.public.b']);
  });

  it('reports only topics that appeared', () => {
    assert.deepEqual(addedTopics(['a', 'b'], ['a', 'b', 'c']), ['c']);
    assert.deepEqual(addedTopics(['a', 'b'], ['a']), []);
  });
});
