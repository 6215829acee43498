import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CdcError, DeadLetter, DeadLetterSink, InvalidationBatch, InvalidationSink, SinkApplyResult, TransientError } from '@cdc/core';
import { BatchApplier, DeadLetterStoreError, SinkUnavailableError } from './batch-applier';

class ScriptedSink implements InvalidationSink {
  calls = 0;
  starts = 0;
  constructor(
    readonly name: string,
    private readonly script: Array<Error | SinkApplyResult | undefined> = [],
  ) {}
  async start(): Promise<void> {
    this.starts++;
  }
  async stop(): Promise<void> {}
  async apply(): Promise<SinkApplyResult | void> {
    this.calls++;
    const next = this.script.shift();
    if (next instanceof Error) throw next;
    return next;
  }
}

class MemoryDeadLetters implements DeadLetterSink {
  readonly stored: DeadLetter[] = [];
  failures = 0;
  async publish(letters: readonly DeadLetter[]): Promise<void> {
    if (this.failures-- > 0) throw new CdcError('dlq refused', { code: 'X', retriable: false });
    this.stored.push(...letters);
  }
}

function batch(keys: string[], tags: string[] = []): InvalidationBatch {
  const b = new InvalidationBatch();
  b.addEvent({ op: 'update', schema: 'public', table: 't', commitTimeMs: 1, position: '0/5' });
  b.addMatch({ rule: 'r', keys, tags, patterns: [], channels: ['c'], cdn: [], missing: [] });
  return b;
}

const fast = { initialDelayMs: 1, maxDelayMs: 2 };

describe('BatchApplier', () => {
  it('a whole-batch non-retriable error is dead-lettered and the next sink still runs', async () => {
    const redis = new ScriptedSink('redis', [new CdcError('ERR unknown command', { code: 'REDIS', retriable: false })]);
    const l1 = new ScriptedSink('l1');
    const dlq = new MemoryDeadLetters();
    const outcome = await new BatchApplier({ sinks: [redis, l1], deadLetters: dlq, sourceName: 'test', ...fast }).apply(batch(['k1'], ['t1']));
    assert.equal(outcome.status, 'applied');
    assert.equal(l1.calls, 1);
    if (outcome.status !== 'applied') return;
    assert.deepEqual(outcome.sinks, ['l1']);
    assert.equal(dlq.stored.length, 1);
    assert.equal(dlq.stored[0].reason, 'redis: ERR unknown command');
    assert.deepEqual(dlq.stored[0].payload, { kind: 'actions', sink: 'redis', keys: ['k1'], tags: ['t1'], patterns: [], channels: ['c'], cdn: [] });
  });

  it('groups rejected actions by reason', async () => {
    const rejected = [
      { kind: 'tag' as const, value: 't1', reason: 'WRONGTYPE' },
      { kind: 'tag' as const, value: 't2', reason: 'WRONGTYPE' },
      { kind: 'key' as const, value: 'k2', reason: 'OOM' },
    ];
    const dlq = new MemoryDeadLetters();
    await new BatchApplier({ sinks: [new ScriptedSink('redis', [{ rejected }])], deadLetters: dlq, sourceName: 'test' }).apply(batch(['k1', 'k2'], ['t1', 't2']));
    assert.deepEqual(
      dlq.stored.map((l) => [l.reason, (l.payload as { keys: string[] }).keys, (l.payload as { tags: string[] }).tags]),
      [
        ['redis: WRONGTYPE', [], ['t1', 't2']],
        ['redis: OOM', ['k2'], []],
      ],
    );
  });

  it('with finite attempts, a sink that stays down fails the batch with the sinks already applied, and later sinks do not run', async () => {
    const redis = new ScriptedSink('redis');
    const l1 = new ScriptedSink('l1', [new TransientError('down'), new TransientError('down'), new TransientError('down')]);
    const cdn = new ScriptedSink('cdn');
    await assert.rejects(new BatchApplier({ sinks: [redis, l1, cdn], deadLetters: undefined, sourceName: 'test', maxAttempts: 3, ...fast }).apply(batch(['k'])), (err: unknown) => {
      assert.ok(err instanceof SinkUnavailableError);
      assert.equal(err.sink, 'l1');
      assert.deepEqual(err.applied, ['redis']);
      assert.equal(err.retriable, true);
      return true;
    });
    assert.equal(cdn.calls, 0);
  });

  it('retries every dead-letter write error, and fails (nothing to confirm) when the store stays down', async () => {
    const dlq = new MemoryDeadLetters();
    dlq.failures = 2;
    const rejectOnce = () => new ScriptedSink('redis', [{ rejected: [{ kind: 'key', value: 'k', reason: 'r' }] }]);
    const ok = await new BatchApplier({ sinks: [rejectOnce()], deadLetters: dlq, sourceName: 'test', maxAttempts: 5, ...fast }).apply(batch(['k']));
    assert.equal(ok.status, 'applied');
    assert.equal(dlq.stored.length, 1, 'a non-retriable store error is retried too');
    dlq.failures = 10;
    await assert.rejects(
      new BatchApplier({ sinks: [rejectOnce()], deadLetters: dlq, sourceName: 'test', maxAttempts: 3, ...fast }).apply(batch(['k'])),
      DeadLetterStoreError,
    );
    await assert.rejects(new BatchApplier({ sinks: [rejectOnce()], deadLetters: undefined, sourceName: 'test' }).apply(batch(['k'])), /no dead-letter store/);
  });

  it('records rule failures handed in even when there is nothing to apply, and can start sinks first', async () => {
    const dlq = new MemoryDeadLetters();
    const sink = new ScriptedSink('redis');
    const letter = { reason: 'rules: x', source: 'test', position: '0/1', payload: {}, at: 'now' };
    const empty = new InvalidationBatch();
    const outcome = await new BatchApplier({ sinks: [sink], deadLetters: dlq, sourceName: 'test', startSinks: true }).apply(empty, [letter]);
    assert.equal(outcome.status, 'applied');
    assert.equal(sink.calls, 0);
    assert.deepEqual(dlq.stored, [letter]);
    await new BatchApplier({ sinks: [sink], deadLetters: dlq, sourceName: 'test', startSinks: true }).apply(batch(['k']));
    assert.equal(sink.starts, 1);
  });

  it('resolves aborted when the signal aborts during retries', async () => {
    const abort = new AbortController();
    const sink = new ScriptedSink('redis', Array.from({ length: 1000 }, () => new TransientError('down')));
    const pending = new BatchApplier({ sinks: [sink], deadLetters: undefined, sourceName: 'test', signal: abort.signal, ...fast }).apply(batch(['k']));
    setTimeout(() => abort.abort(), 20);
    assert.deepEqual(await pending, { status: 'aborted' });
  });
});
