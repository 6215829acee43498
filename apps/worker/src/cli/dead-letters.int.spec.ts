import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { ChangeEvent, InvalidationBatch } from '@cdc/core';
import { BatchApplier, ruleFailureLetter } from '@cdc/pipeline';
import { loadRulesFile } from '@cdc/rules';
import { RedisDeadLetterSink, connectRedis, readDeadLetters } from '@cdc/sink-redis';
import { RedisServer } from '@cdc/testing';
import { loadWorkerSettings } from '../config/worker-settings';
import { CliSinks, openCliSinks } from './apply-sinks';
import { describePayload } from './dead-letter-redrive';
import { redrive } from './dead-letters.command';

const RULES = `version: 1
defaults:
  channels: [l1-test]
rules:
  - name: by-id
    table: public.docs
    invalidate:
      keys: ["doc:{id}"]
  - name: by-slug
    table: public.docs
    invalidate:
      keys: ["doc:slug:{slug}"]
`;

/** `dead-letters redrive` against a real Redis: letters written by the BatchApplier are re-applied through the real sinks. */
describe('dead-letters redrive', { timeout: 60_000 }, () => {
  let server: RedisServer;
  let r: Redis;
  let dir: string;
  const stream = 'cdc:dead-letter';

  before(async () => {
    server = await RedisServer.start();
    r = server.client();
    dir = mkdtempSync(join(tmpdir(), 'cdc-redrive-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
  });
  after(async () => {
    r?.disconnect();
    await server?.destroy();
  });

  async function open(dryRun: boolean): Promise<{ out: CliSinks; rules: ReturnType<typeof loadRulesFile> }> {
    const env = { REDIS_URL: server.url, RULES_FILE: join(dir, 'rules.yaml') };
    const settings = loadWorkerSettings(env, { needsSource: false });
    const rules = settings.rules;
    const out = await openCliSinks({ settings, dryRun, sourceName: 'redrive' });
    await connectRedis(out.redis);
    return { out, rules };
  }

  /** Writes letters the way the pipeline does: through a BatchApplier with the Redis dead-letter stream. */
  async function deadLetter(): Promise<string[]> {
    await r.del(stream);
    const dlq = new RedisDeadLetterSink({ client: r });
    const event: ChangeEvent = { op: 'update', schema: 'public', table: 'docs', before: { id: 7, slug: 'old' }, after: { id: 7, slug: 'new' }, keyColumns: ['id'], commitTimeMs: 1, position: '0/A' };
    // 1. rule by-slug failed on the event; 2. a sink rejected two keys and a tag; 3. something no redrive can apply.
    await dlq.publish([ruleFailureLetter('postgres', event, 'by-slug', new Error('boom'))]);
    const batch = new InvalidationBatch();
    batch.addEvent(event);
    batch.addMatch({ rule: 'by-id', keys: ['doc:1', 'doc:2', 'doc:3'], tags: ['docs'], patterns: [], channels: ['l1-test'], cdn: [], missing: [] });
    const rejecting = {
      name: 'redis',
      start: async () => undefined,
      stop: async () => undefined,
      apply: async () => ({
        rejected: [
          { kind: 'key' as const, value: 'doc:1', reason: 'OOM command not allowed' },
          { kind: 'key' as const, value: 'doc:2', reason: 'OOM command not allowed' },
          { kind: 'tag' as const, value: 'docs', reason: 'OOM command not allowed' },
        ],
      }),
    };
    await new BatchApplier({ sinks: [rejecting], deadLetters: dlq, sourceName: 'postgres' }).apply(batch);
    await dlq.publish([{ reason: 'undecodable message', source: 'postgres', position: '0/B', payload: { prefix: 'x', content: '{' }, at: new Date().toISOString() }]);
    return (await readDeadLetters(r)).map((l) => l.id);
  }

  async function seed(): Promise<void> {
    await r.mset('doc:1', 'v', 'doc:2', 'v', 'doc:3', 'v', 'doc:slug:new', 'v', 'doc:slug:old', 'v', 'tagged:1', 'v', 'doc:7', 'v');
    await r.sadd('cdc:tag:docs', 'tagged:1');
  }

  it('list summarizes each payload', async () => {
    await deadLetter();
    const lines = (await readDeadLetters(r)).map(describePayload);
    assert.deepEqual(lines, ['event update public.docs id=7 (rule by-slug)', 'actions rejected by redis: keys doc:1 doc:2; tags docs; channels l1-test', 'other: {"prefix":"x","content":"{"}']);
  });

  it('--dry-run says what each entry would re-apply and touches nothing', async () => {
    const ids = await deadLetter();
    await seed();
    const { out, rules } = await open(true);
    try {
      const lines: string[] = [];
      const summary = await redrive(out, rules, { ids: 'all', stream, dryRun: true }, (l) => lines.push(l));
      assert.equal(summary.redriven, 2);
      assert.deepEqual(summary.kept.map((k) => k.id), [ids[2]]);
      assert.match(lines[0], /would re-apply update public\.docs through rule by-slug: 1 key, 0 tags/);
      assert.match(lines[1], /would re-apply 2 keys, 1 tag, 0 patterns, 1 L1 channel/);
      assert.equal(await r.xlen(stream), 3);
      assert.equal(await r.exists('doc:1', 'doc:2', 'doc:slug:new', 'tagged:1'), 4);
    } finally {
      await out.close();
    }
  });

  it('re-applies event and action entries through the sinks (L2, then L1), removes them, and keeps what it cannot apply', async () => {
    const ids = await deadLetter();
    await seed();
    const sub = server.client();
    const messages: Array<{ keys: string[]; tags: string[] }> = [];
    sub.on('message', (_c: string, text: string) => messages.push(JSON.parse(text)));
    await sub.subscribe('l1-test');
    const { out, rules } = await open(false);
    try {
      const summary = await redrive(out, rules, { ids: 'all', stream, dryRun: false }, () => undefined);
      assert.equal(summary.redriven, 2);
      assert.deepEqual(summary.kept, [{ id: ids[2], reason: summary.kept[0].reason }]);
      assert.match(summary.kept[0].reason, /neither an event nor actions/);
      // Only the failed rule's key (by-slug: the new row's slug), not by-id's doc:7; the rejected keys and the tag's members.
      assert.deepEqual(await Promise.all(['doc:slug:new', 'doc:slug:old', 'doc:1', 'doc:2', 'tagged:1', 'doc:3', 'doc:7'].map((k) => r.exists(k))), [0, 1, 0, 0, 0, 1, 1]);
      assert.deepEqual((await readDeadLetters(r)).map((l) => l.id), [ids[2]], 'the applied entries are removed');
      for (let i = 0; i < 50 && messages.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
      assert.deepEqual(messages.map((m) => [...m.keys].sort()), [['doc:slug:new'], ['doc:1', 'doc:2']]);
    } finally {
      sub.disconnect();
      await out.close();
    }
  });

  it('keeps an entry that fails again, with the new reason, and redrives by id', async () => {
    await r.del(stream);
    await r.set('cdc:tag:wrong', 'a string where a set belongs');
    const dlq = new RedisDeadLetterSink({ client: r });
    await dlq.publish([
      { reason: 'redis: WRONGTYPE', source: 'postgres', position: '0/C', payload: { kind: 'actions', sink: 'redis', keys: [], tags: ['wrong'], patterns: [], channels: [], cdn: [] }, at: 'now' },
      { reason: 'redis: OOM', source: 'postgres', position: '0/D', payload: { sink: 'redis', keys: ['doc:9'], tags: [], patterns: [], cdn: [] }, at: 'now' },
    ]);
    const [wrong, legacy] = (await readDeadLetters(r)).map((l) => l.id);
    await r.set('doc:9', 'v');
    const { out, rules } = await open(false);
    try {
      const summary = await redrive(out, rules, { ids: [wrong, legacy, '1-1'], stream, dryRun: false }, () => undefined);
      assert.equal(summary.redriven, 1, 'the entry written before payloads had a kind is re-applied too');
      assert.equal(await r.exists('doc:9'), 0);
      assert.deepEqual(summary.missing, ['1-1']);
      assert.equal(summary.kept.length, 1);
      assert.equal(summary.kept[0].id, wrong);
      assert.match(summary.kept[0].reason, /failed again: .*WRONGTYPE/);
      assert.deepEqual((await readDeadLetters(r)).map((l) => l.id), [wrong]);
    } finally {
      await out.close();
    }
  });
});
