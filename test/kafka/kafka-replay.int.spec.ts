import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ChangeEvent, RuleMatch } from '@cdc/core';
import { ReplayProgress, createKafkaSource, replayKafka } from '@cdc/source-kafka';
import { KafkaServer, waitFor } from '@cdc/testing';
import { committedOffsets, debeziumUpdate, endOffsets, produce } from '../support/debezium-fixtures';

/** A stand-in for compiled rules: one key and one tag per row. */
function matchesFor(events: readonly ChangeEvent[]): RuleMatch[] {
  return events.map((e) => ({
    rule: 'row',
    keys: [`order:${String(e.after?.id)}`],
    tags: [`orders`],
    patterns: [],
    channels: [],
    cdn: [],
    missing: [],
  }));
}

/**
 * Replay under its own consumer group: by time range and from `earliest`, dry-run and real,
 * bounded by the end offsets captured at start; the live group's offsets are not touched.
 */
describe('replayKafka', () => {
  let kafka: KafkaServer;
  const topic = 'replay-orders';
  const hour = 3_600_000;
  const t0 = Date.now() - 3 * hour;
  const t1 = t0 + hour; // first 100 records before t1, next 100 from t1 + 10 min

  before(async () => {
    kafka = await KafkaServer.start();
    await kafka.createTopic(topic, 2);
    const msgs = Array.from({ length: 200 }, (_, i) => {
      const ts = i < 100 ? t0 + i * 1000 : t1 + 600_000 + i * 1000;
      return { key: JSON.stringify({ id: i % 20 }), value: debeziumUpdate('orders', i % 20, i, ts), timestamp: String(ts) };
    });
    await produce(kafka.client(), topic, msgs);
  });

  after(async () => {
    await kafka?.destroy();
  });

  const base = () => ({ brokers: kafka.brokers, topics: [topic] });

  it('dry-run from an ISO time summarises the actions of the later records only, and leaves the live group alone', async () => {
    // A live group that has consumed everything and committed.
    const live = createKafkaSource({ ...base(), groupId: 'live', sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
    await live.start();
    let got = 0;
    while (got < 200) {
      const batch = await live.read(100);
      assert.ok(batch);
      got += batch.events.length;
      batch.ack();
    }
    const ends = await endOffsets(kafka.client(), topic);
    await waitFor('live commits', async () => {
      const c = await committedOffsets(kafka.client(), 'live', topic);
      return Object.keys(ends).every((k) => c[k] === ends[k]);
    });
    await live.stop();
    const liveBefore = await committedOffsets(kafka.client(), 'live', topic);

    const progress: ReplayProgress[] = [];
    const seen: ChangeEvent[] = [];
    const summary = await replayKafka({
      ...base(),
      from: new Date(t1).toISOString(),
      dryRun: true,
      handleBatch: async (events, ctx) => {
        assert.equal(ctx.dryRun, true);
        seen.push(...events);
        return matchesFor(events);
      },
      onProgress: (p) => progress.push(p),
    });
    assert.equal(summary.dryRun, true);
    assert.equal(summary.events, 100);
    assert.equal(summary.records, 100);
    assert.ok(seen.every((e) => (e.after?.seq as number) >= 100), 'only records from t1 on');
    assert.deepEqual(summary.eventsByOp, { update: 100 });
    assert.deepEqual(summary.eventsByTable, { 'public.orders': 100 });
    assert.equal(summary.actions.keys.count, 100);
    assert.equal(summary.actions.tags.count, 100);
    assert.equal(summary.actions.keys.samples.length, 5);
    assert.deepEqual(summary.actions.tags.samples, ['orders']);
    assert.ok(progress.length > 0);
    const last = progress[progress.length - 1];
    assert.equal(last.records, last.totalRecords);
    assert.equal(last.partitionsDone, last.partitions);

    assert.deepEqual(await committedOffsets(kafka.client(), 'live', topic), liveBefore, 'live group offsets unchanged');
    const admin = kafka.client().admin();
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    await admin.disconnect();
    assert.ok(!groups.includes(summary.groupId), 'the replay group is removed afterwards');
  });

  it('real replay from earliest stops at the end offsets captured at start, in per-partition order', async () => {
    const seen: ChangeEvent[] = [];
    let producedDuring = false;
    const summary = await replayKafka({
      ...base(),
      from: 'earliest',
      batchSize: 30,
      handleBatch: async (events) => {
        assert.ok(events.length <= 30);
        seen.push(...events);
        if (!producedDuring) {
          producedDuring = true;
          // Written while the replay runs: past the captured end, so not replayed.
          await produce(kafka.client(), topic, Array.from({ length: 50 }, (_, i) => ({ key: JSON.stringify({ id: i }), value: debeziumUpdate('orders', i, 1000 + i) })));
        }
      },
    });
    assert.equal(summary.dryRun, false);
    assert.equal(summary.events, 200);
    assert.equal(seen.length, 200);
    assert.equal(new Set(seen.map((e) => e.position)).size, 200);
    assert.equal(summary.actions.keys.count, 0, 'handleBatch returned nothing to count');
    const lastOffset = new Map<string, number>();
    for (const e of seen) {
      const [, partition, offset] = e.position.split('/');
      assert.ok((lastOffset.get(partition) ?? -1) < Number(offset));
      lastOffset.set(partition, Number(offset));
    }
  });

  it('replays a closed time range [from, to) and an explicit offsets spec', async () => {
    const inRange = await replayKafka({ ...base(), from: new Date(t0).toISOString(), to: new Date(t1).toISOString(), handleBatch: async () => undefined });
    assert.equal(inRange.events, 100);

    const ends = await endOffsets(kafka.client(), topic);
    const p0End = BigInt(ends[`${topic}/0`]);
    const fromOffsets = await replayKafka({ ...base(), from: `${topic}:0:${p0End - 3n}`, handleBatch: async () => undefined });
    assert.equal(fromOffsets.events, 3);
    assert.deepEqual(Object.keys(fromOffsets.ranges), [`${topic}/0`]);
  });
});
