import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BadRequestException } from '@nestjs/common';
import { DeadLetter, InvalidationBatch, InvalidationSink, SinkApplyResult, TransientError } from '@cdc/core';
import { EventBodyPipe, ZodBodyPipe, invalidateBodySchema } from './admin-bodies';
import { ManualApplyError, applyManualBatch, buildManualBatch } from './manual-invalidation';

const pipe = new ZodBodyPipe(invalidateBodySchema);

function rejects(body: unknown): string {
  try {
    pipe.transform(body);
  } catch (err) {
    assert.ok(err instanceof BadRequestException);
    return JSON.stringify(err.getResponse());
  }
  assert.fail('expected a 400');
}

/** Records what it was asked to apply; `failures` makes the first n calls fail. */
class RecordingSink implements InvalidationSink {
  readonly applied: InvalidationBatch[] = [];
  constructor(
    readonly name: string,
    private readonly log: string[],
    private failures = 0,
    private readonly error: () => Error = () => new TransientError('down'),
  ) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async apply(batch: InvalidationBatch): Promise<SinkApplyResult | void> {
    this.log.push(this.name);
    if (this.failures-- > 0) throw this.error();
    this.applied.push(batch);
  }
}

describe('POST /admin/invalidate body', () => {
  it('accepts keys, tags, patterns and CDN purges', () => {
    const body = pipe.transform({
      keys: ['product:1'],
      tags: ['category-3'],
      patterns: ['search:*'],
      urls: {
        cloudflare: { zone: 'shop', files: ['https://shop.example.com/p/1'], tags: ['product-1'], prefixes: ['shop.example.com/p/'] },
        cloudfront: { distribution: 'web', paths: ['/p/1', '/search/*'] },
      },
    });
    assert.deepEqual(body.keys, ['product:1']);
  });

  it('says which field is wrong', () => {
    assert.match(rejects({}), /nothing to invalidate/);
    assert.match(rejects({ keys: 'product:1' }), /body\.keys: Expected array, received string/);
    assert.match(rejects({ key: ['a'] }), /body: unknown key\(s\) 'key'/);
    assert.match(rejects({ keys: [''] }), /body\.keys\.0: a key must not be empty/);
    assert.match(rejects({ urls: { cloudflare: { zone: 'shop' } } }), /body\.urls\.cloudflare: give at least one of files, tags, prefixes/);
    assert.match(rejects({ urls: { cloudflare: { zone: 'shop', files: ['shop.example.com/p/1'] } } }), /body\.urls\.cloudflare\.files\.0: must be an absolute http/);
    assert.match(rejects({ urls: { cloudflare: { zone: 'shop', prefixes: ['https://shop.example.com/p/'] } } }), /prefixes\.0: must be host\/path without a scheme/);
    assert.match(rejects({ urls: { cloudfront: { distribution: 'web', paths: ['p/1'] } } }), /paths\.0: must start with '\/'/);
    assert.match(rejects({ urls: { cloudfront: { distribution: 'web', paths: ['/a*/b'] } } }), /only as its last character/);
    assert.match(rejects({ urls: { cloudfront: { distribution: '{x}', paths: ['/a'] } } }), /distribution must be an alias/);
  });

  it('explain takes the CLI event JSON and answers 400 with the bad field', () => {
    const events = new EventBodyPipe();
    assert.equal(events.transform({ op: 'u', table: 'public.products', before: { id: 1 }, after: { id: 1 } }).op, 'update');
    assert.throws(() => events.transform({ op: 'upsert', table: 'public.products' }), (err: unknown) => err instanceof BadRequestException && /event\.op: unknown op 'upsert'/.test(err.message));
  });
});

describe('manual invalidation', () => {
  it('builds one batch for the default channels, with CDN purges', () => {
    const batch = buildManualBatch(
      { keys: ['k1', 'k1', 'k2'], tags: ['t'], urls: { cloudfront: { distribution: 'web', paths: ['/p/1'] } } },
      ['cache-invalidation'],
      1_700_000_000_000,
    );
    assert.deepEqual([...batch.keys], ['k1', 'k2']);
    assert.deepEqual([...batch.channels.keys()], ['cache-invalidation']);
    assert.deepEqual([...batch.channels.get('cache-invalidation')!.tags], ['t']);
    assert.deepEqual(batch.cdn, [{ provider: 'cloudfront', target: 'web', kind: 'paths', value: '/p/1' }]);
    assert.match(batch.lastPosition, /^admin:[0-9a-f-]{36}$/);
    assert.equal(batch.lastCommitTimeMs, 1_700_000_000_000);
  });

  it('a CDN-only request tells no L1 channel', () => {
    const batch = buildManualBatch({ urls: { cloudfront: { distribution: 'web', paths: ['/p/1'] } } }, ['cache-invalidation']);
    assert.equal(batch.channels.size, 0);
  });

  it('applies through the sinks in order, retrying a retriable failure', async () => {
    const order: string[] = [];
    const sinks = [new RecordingSink('redis', order, 1), new RecordingSink('l1-pubsub', order), new RecordingSink('cdn-outbox', order)];
    const result = await applyManualBatch(buildManualBatch({ keys: ['k'] }, ['c']), sinks);
    assert.deepEqual(order, ['redis', 'redis', 'l1-pubsub', 'cdn-outbox']);
    assert.deepEqual(result.sinks, ['redis', 'l1-pubsub', 'cdn-outbox']);
    assert.equal(result.keys, 1);
  });

  it('stops at a sink that keeps failing, so L1 never hears of an eviction L2 did not do', async () => {
    const order: string[] = [];
    const sinks = [new RecordingSink('redis', order, 100), new RecordingSink('l1-pubsub', order)];
    await assert.rejects(applyManualBatch(buildManualBatch({ keys: ['k'] }, ['c']), sinks, { maxAttempts: 2 }), (err: unknown) => {
      assert.ok(err instanceof ManualApplyError);
      assert.equal(err.sink, 'redis');
      assert.equal(err.retriable, true);
      assert.deepEqual(err.applied, []);
      return true;
    });
    assert.deepEqual(order, ['redis', 'redis']);
  });

  it('dead-letters what a sink rejects, answers it, and still runs the next sinks', async () => {
    const order: string[] = [];
    const letters: DeadLetter[] = [];
    const redis = new RecordingSink('redis', order);
    redis.apply = async () => {
      order.push('redis');
      return { rejected: [{ kind: 'tag', value: 't', reason: 'WRONGTYPE' }] };
    };
    const sinks = [redis, new RecordingSink('l1-pubsub', order)];
    const result = await applyManualBatch(buildManualBatch({ keys: ['k'], tags: ['t'] }, ['c']), sinks, { deadLetters: { publish: async (l) => void letters.push(...l) } });
    assert.deepEqual(order, ['redis', 'l1-pubsub']);
    assert.deepEqual(result.sinks, ['redis', 'l1-pubsub']);
    assert.equal(result.rejected.length, 1);
    assert.equal(result.rejected[0].reason, 'redis: WRONGTYPE');
    assert.equal(letters.length, 1);
    assert.equal(letters[0].source, 'admin');
    assert.match(letters[0].position, /^admin:/);
  });

  it('replaces patterns by the keys a capped scan found', () => {
    const batch = buildManualBatch({ keys: ['a'], patterns: ['p:*'] }, ['c'], 1, ['p:1', 'p:2', 'a']);
    assert.deepEqual([...batch.keys], ['a', 'p:1', 'p:2']);
    assert.equal(batch.patterns.size, 0);
  });
});
