import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  ChangeEvent,
  ChangeSource,
  CdcError,
  DeadLetter,
  DeadLetterSink,
  InvalidationBatch,
  InvalidationSink,
  RejectedAction,
  RuleMatch,
  SinkApplyResult,
  SourceBatch,
  TransientError,
} from '@cdc/core';
import { compileRules } from '@cdc/rules';
import { InvalidationPipeline } from './invalidation-pipeline';

/** A dead-letter store that can be down (every write fails) or slow (writes wait for a gate). */
class FlakyDeadLetters implements DeadLetterSink {
  readonly stored: DeadLetter[] = [];
  attempts = 0;
  down = false;
  gate?: Promise<void>;
  async publish(letters: readonly DeadLetter[]): Promise<void> {
    this.attempts++;
    if (this.gate) await this.gate;
    if (this.down) throw new TransientError('dead-letter store down');
    this.stored.push(...letters);
  }
}

/** In-memory source: hands out queued batches in order and records acks. */
class QueueSource implements ChangeSource {
  readonly name = 'test';
  status: ChangeSource['status'] = 'idle';
  readonly acked: string[] = [];
  private readonly queue: ChangeEvent[][] = [];
  private waiter?: () => void;
  private stopped = false;
  maxReadSeen = 0;

  push(events: ChangeEvent[]): void {
    this.queue.push(events);
    this.waiter?.();
  }
  async start(): Promise<void> {
    this.status = 'streaming';
  }
  async read(maxEvents: number): Promise<SourceBatch | null> {
    this.maxReadSeen = Math.max(this.maxReadSeen, maxEvents);
    while (this.queue.length === 0) {
      if (this.stopped) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
    const events = this.queue.shift()!;
    return { events, ack: () => this.acked.push(events[events.length - 1].position) };
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiter?.();
  }
}

class RecordingSink implements InvalidationSink {
  readonly applied: Array<{ keys: string[]; at: number }> = [];
  failNext: Error[] = [];
  gate?: Promise<void>;
  /** Actions to report as rejected for good (SinkApplyResult), per batch. */
  reject?: (batch: InvalidationBatch) => RejectedAction[];
  constructor(
    readonly name: string,
    private readonly log: string[],
  ) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async apply(batch: InvalidationBatch): Promise<SinkApplyResult | void> {
    if (this.gate) await this.gate;
    const err = this.failNext.shift();
    if (err) throw err;
    this.log.push(`${this.name}:${[...batch.keys].join(',')}`);
    this.applied.push({ keys: [...batch.keys], at: Date.now() });
    if (this.reject) return { rejected: this.reject(batch) };
  }
}

function ev(id: number, pos: number, op: ChangeEvent['op'] = 'update'): ChangeEvent {
  return { op, schema: 'public', table: 'products', after: { id }, commitTimeMs: Date.now(), position: `0/${pos}` };
}

const keyRule = {
  evaluate(e: ChangeEvent): RuleMatch[] {
    const id = (e.after as { id: number }).id;
    if (id < 0) throw new Error('boom');
    return [{ rule: 'r', keys: [`product:${id}`], tags: [], patterns: [], channels: ['l1'], cdn: [], missing: [] }];
  },
};

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('InvalidationPipeline', () => {
  it('applies sinks in order (L2, then L1) and acks only afterwards', async () => {
    const log: string[] = [];
    const source = new QueueSource();
    const redis = new RecordingSink('redis', log);
    const l1 = new RecordingSink('l1', log);
    let release!: () => void;
    l1.gate = new Promise((r) => (release = r));
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis, l1], undefined);
    await p.start();
    source.push([ev(1, 10)]);
    await until(() => log.length === 1);
    assert.deepEqual(log, ['redis:product:1']);
    assert.deepEqual(source.acked, [], 'not acked while L1 is still pending');
    release();
    await until(() => source.acked.length === 1);
    assert.deepEqual(log, ['redis:product:1', 'l1:product:1']);
    await p.stop();
  });

  it('overlaps L2 of the next batch with L1 of the previous one, keeping each sink in order and acks in order', async () => {
    const log: string[] = [];
    const source = new QueueSource();
    const redis = new RecordingSink('redis', log);
    const l1 = new RecordingSink('l1', log);
    let release!: () => void;
    l1.gate = new Promise((r) => (release = r));
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis, l1], undefined);
    await p.start();
    source.push([ev(1, 1)]);
    await until(() => log.length === 1);
    source.push([ev(2, 2)]);
    await until(() => log.length === 2);
    assert.deepEqual(log, ['redis:product:1', 'redis:product:2'], 'batch 2 reached L2 while batch 1 waits for L1');
    assert.deepEqual(source.acked, []);
    source.push([ev(3, 3)]);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(log.length, 2, 'no more than two batches in flight');
    release();
    await until(() => source.acked.length === 3);
    assert.deepEqual(log, ['redis:product:1', 'redis:product:2', 'l1:product:1', 'l1:product:2', 'redis:product:3', 'l1:product:3']);
    assert.deepEqual(source.acked, ['0/1', '0/2', '0/3']);
    await p.stop();
  });

  it('coalesces repeated keys within a batch and keeps source order across batches', async () => {
    const log: string[] = [];
    const source = new QueueSource();
    const redis = new RecordingSink('redis', log);
    let release!: () => void;
    redis.gate = new Promise((r) => (release = r));
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis], undefined);
    await p.start();
    source.push([ev(1, 1)]);
    await until(() => p.busy);
    // While batch 1 is being applied, three more arrive and form one batch.
    source.push([ev(2, 2), ev(2, 2)]);
    source.push([ev(3, 3)]);
    source.push([ev(2, 4)]);
    await new Promise((r) => setTimeout(r, 20));
    release();
    await until(() => source.acked.length === 4);
    assert.deepEqual(log, ['redis:product:1', 'redis:product:2,product:3']);
    assert.deepEqual(source.acked, ['0/1', '0/2', '0/3', '0/4']);
    await p.stop();
  });

  it('retries a retriable sink error with the source paused, then acks', async () => {
    const log: string[] = [];
    const source = new QueueSource();
    const redis = new RecordingSink('redis', log);
    redis.failNext = [new TransientError('down'), new TransientError('down')];
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis], undefined, { retryInitialDelayMs: 1, retryMaxDelayMs: 5 });
    await p.start();
    source.push([ev(7, 1)]);
    await until(() => source.acked.length === 1);
    assert.deepEqual(log, ['redis:product:7']);
    await p.stop();
  });

  it('dead-letters a batch a sink rejects for good, and an event the rules cannot process, and goes on', async () => {
    const log: string[] = [];
    const letters: DeadLetter[] = [];
    const source = new QueueSource();
    const redis = new RecordingSink('redis', log);
    redis.failNext = [new CdcError('WRONGTYPE', { code: 'X', retriable: false })];
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis], { publish: async (l) => void letters.push(...l) });
    await p.start();
    source.push([ev(1, 1)]);
    await until(() => source.acked.length === 1);
    source.push([ev(-1, 2), ev(5, 2)]);
    await until(() => source.acked.length === 2);
    assert.equal(letters.length, 2);
    assert.match(letters[0].reason, /redis: WRONGTYPE/);
    assert.match(letters[1].reason, /rules: boom/);
    assert.deepEqual(log, ['redis:product:5'], 'the good event of the batch was still applied');
    await p.stop();
  });

  it('never asks the source for more than maxBatchEvents while the applier is stuck (bounded memory)', async () => {
    const source = new QueueSource();
    const redis = new RecordingSink('redis', []);
    let release!: () => void;
    redis.gate = new Promise((r) => (release = r));
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis], undefined, { maxBatchEvents: 10 });
    await p.start();
    for (let i = 0; i < 30; i++) source.push([ev(i, i + 1)]);
    await new Promise((r) => setTimeout(r, 50));
    // 1 event in the applying batch + at most 10 pending; the rest stays in the source.
    assert.ok(source.maxReadSeen <= 10);
    assert.ok(source['queue'].length >= 30 - 11, `source still holds the backlog (${source['queue'].length})`);
    release();
    await until(() => source.acked.length === 30);
    await p.stop();
  });

  it('stop leaves the unapplied batch unacked so the source re-delivers it', async () => {
    const source = new QueueSource();
    const redis = new RecordingSink('redis', []);
    redis.failNext = Array.from({ length: 1000 }, () => new TransientError('down'));
    const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis], undefined, { retryInitialDelayMs: 1, retryMaxDelayMs: 2 });
    await p.start();
    source.push([ev(1, 1)]);
    await new Promise((r) => setTimeout(r, 30));
    await p.stop(200);
    assert.deepEqual(source.acked, []);
    assert.equal(p.state, 'stopped');
  });

  describe('a failure is confined to its unit and recorded before the ack', () => {
    it('a rule that overflows the stack on a 6,000-deep jsonb loses only its own output; the letter names the rule and is stored before the ack', async () => {
      const rules = compileRules(
        `version: 1
rules:
  - name: by-id
    table: public.docs
    invalidate:
      keys: ["doc:{id}"]
  - name: by-body
    table: public.docs
    invalidate:
      keys: ["doc:body:{body}"]
`,
        'rules.yaml',
      );
      let deep: unknown = 1;
      for (let i = 0; i < 6000; i++) deep = { a: deep };
      const log: string[] = [];
      const source = new QueueSource();
      const redis = new RecordingSink('redis', log);
      const dlq = new FlakyDeadLetters();
      let release!: () => void;
      dlq.gate = new Promise((r) => (release = r));
      const p = new InvalidationPipeline(source, { current: () => rules }, [redis], dlq);
      await p.start();
      const event: ChangeEvent = { op: 'insert', schema: 'public', table: 'docs', after: { id: 1, body: deep }, commitTimeMs: 1, position: '0/10' };
      source.push([event, { ...event, after: { id: 2, body: 'ok' } }]);
      await until(() => log.length === 1 && dlq.attempts === 1);
      assert.deepEqual(log, ['redis:doc:1,doc:2,doc:body:ok'], "the other rule's key of the same event, and the other event, were applied");
      await new Promise((r) => setTimeout(r, 30));
      assert.deepEqual(source.acked, [], 'not acked while the dead letter is being written');
      release();
      await until(() => source.acked.length === 1);
      assert.equal(dlq.stored.length, 1);
      const letter = dlq.stored[0];
      assert.match(letter.reason, /^rules: rule by-body: Maximum call stack size exceeded/);
      assert.equal(letter.position, '0/10');
      const payload = letter.payload as { kind: string; rule: string; event: { position: string; after: { id: number } }; cut?: boolean };
      assert.equal(payload.kind, 'event');
      assert.equal(payload.rule, 'by-body');
      assert.equal(payload.event.after.id, 1);
      assert.equal(payload.cut, true, 'the too-deep value is cut so the letter can be written');
      assert.doesNotThrow(() => JSON.stringify(letter.payload));
      await p.stop();
    });

    it('never acks past a failure the dead-letter store could not record: retries with the stream paused, acks once stored', async () => {
      const log: string[] = [];
      const source = new QueueSource();
      const redis = new RecordingSink('redis', log);
      const dlq = new FlakyDeadLetters();
      dlq.down = true;
      const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis], dlq, { retryInitialDelayMs: 1, retryMaxDelayMs: 5 });
      await p.start();
      source.push([ev(-1, 1), ev(1, 1)]);
      source.push([ev(2, 2)]);
      await until(() => dlq.attempts >= 5);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(source.acked, [], 'no position confirmed while the failure is unrecorded');
      assert.ok(log.length <= 2, 'and the stream is paused (at most the batches already in flight reached the sink)');
      dlq.down = false;
      await until(() => source.acked.length === 2);
      assert.deepEqual(source.acked, ['0/1', '0/2']);
      assert.equal(dlq.stored.length, 1);
      assert.match(dlq.stored[0].reason, /rules: boom/);
      await p.stop();
    });

    it('stop while the dead-letter store is down leaves the batch unacked', async () => {
      const source = new QueueSource();
      const dlq = new FlakyDeadLetters();
      dlq.down = true;
      const p = new InvalidationPipeline(source, { current: () => keyRule }, [new RecordingSink('redis', [])], dlq, { retryInitialDelayMs: 1, retryMaxDelayMs: 2 });
      await p.start();
      source.push([ev(-1, 1)]);
      await until(() => dlq.attempts >= 2);
      await p.stop(200);
      assert.deepEqual(source.acked, []);
    });

    it('a later batch is not acked before an earlier batch\'s dead letters are stored', async () => {
      const log: string[] = [];
      const source = new QueueSource();
      const redis = new RecordingSink('redis', log);
      const l1 = new RecordingSink('l1', log);
      const dlq = new FlakyDeadLetters();
      let release!: () => void;
      dlq.gate = new Promise((r) => (release = r));
      const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis, l1], dlq);
      await p.start();
      source.push([ev(-1, 1)]); // batch 1: only a rule failure
      await until(() => dlq.attempts === 1);
      source.push([ev(2, 2)]); // batch 2: applied at once
      await until(() => log.includes('l1:product:2'));
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(source.acked, [], 'batch 2 waits for batch 1');
      release();
      await until(() => source.acked.length === 2);
      assert.deepEqual(source.acked, ['0/1', '0/2']);
      await p.stop();
    });

    it('dead-letters the actions a sink rejects one by one, with their reason and L1 channels; the rest is applied and the next sink runs', async () => {
      const log: string[] = [];
      const source = new QueueSource();
      const redis = new RecordingSink('redis', log);
      redis.reject = (batch) => (batch.keys.has('product:2') ? [{ kind: 'key', value: 'product:2', reason: 'WRONGTYPE Operation against a key holding the wrong kind of value' }] : []);
      const l1 = new RecordingSink('l1', log);
      const dlq = new FlakyDeadLetters();
      const p = new InvalidationPipeline(source, { current: () => keyRule }, [redis, l1], dlq);
      await p.start();
      source.push([ev(1, 1), ev(2, 1)]);
      await until(() => source.acked.length === 1);
      assert.deepEqual(log, ['redis:product:1,product:2', 'l1:product:1,product:2']);
      assert.equal(dlq.stored.length, 1);
      assert.equal(dlq.stored[0].reason, 'redis: WRONGTYPE Operation against a key holding the wrong kind of value');
      assert.equal(dlq.stored[0].position, '0/1');
      assert.deepEqual(dlq.stored[0].payload, { kind: 'actions', sink: 'redis', keys: ['product:2'], tags: [], patterns: [], channels: ['l1'], cdn: [] });
      await p.stop();
    });
  });
});
