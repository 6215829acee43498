import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent } from '@cdc/core';
import { EventCounts } from './event-counts';
import { kafkaMetrics } from './kafka-metrics';

async function count(source: string, table: string, op: string): Promise<number> {
  const { values } = await kafkaMetrics.events.get();
  return values.find((v) => v.labels.source === source && v.labels.table === table && v.labels.op === op)?.value ?? 0;
}

describe('EventCounts', () => {
  it('counts events per table and op across interleaved runs', async () => {
    const e = (table: string, op: ChangeEvent['op']): ChangeEvent => ({ op, schema: 'public', table, commitTimeMs: 0, position: 'p' });
    const counts = new EventCounts();
    for (const ev of [e('a', 'update'), e('a', 'update'), e('b', 'update'), e('a', 'update'), e('a', 'delete'), e('b', 'update')]) counts.add(ev);
    counts.flush('counts-spec');
    assert.equal(await count('counts-spec', 'public.a', 'update'), 3);
    assert.equal(await count('counts-spec', 'public.a', 'delete'), 1);
    assert.equal(await count('counts-spec', 'public.b', 'update'), 2);
    counts.add(e('a', 'update'));
    counts.flush('counts-spec');
    assert.equal(await count('counts-spec', 'public.a', 'update'), 4, 'a flush starts from zero');
  });
});
