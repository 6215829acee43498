import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { KafkaServer, waitFor } from '@cdc/testing';
import { committedOffsets, endOffsets, produce, updates } from '../support/debezium-fixtures';

interface Runner {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly positions: string[];
  /** For each position, its arrival number across both runners (to order what each saw). */
  readonly arrivals: number[];
  ready: boolean;
  stderr: string;
}

/**
 * Two source instances, each in its own process, in one consumer group: they share the
 * partitions; kill -9 of one mid-stream moves its partitions to the other, and every
 * record is handed out (to one or the other) and finally committed: nothing is lost.
 */
describe('Kafka source scale-out across processes', () => {
  let kafka: KafkaServer;
  const runners: Runner[] = [];
  let arrivals = 0;
  const topic = 'scale-out';
  const groupId = 'g-scale';

  before(async () => {
    kafka = await KafkaServer.start();
    await kafka.createTopic(topic, 4);
  });

  after(async () => {
    for (const r of runners) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
    await kafka?.destroy();
  });

  function startRunner(name: string): Runner {
    // Same runtime as this test: the compiled .js under dist, or the .ts under tsx.
    const file = join(__dirname, `source-runner${extname(__filename)}`);
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
    const proc = spawn(process.execPath, [...execArgv, file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        KAFKA_BROKERS: kafka.bootstrap,
        KAFKA_GROUP_ID: groupId,
        KAFKA_TOPICS: topic,
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_CLIENT_ID: `runner-${name}`,
        RUNNER_DELAY_MS: '10',
      },
    });
    const runner: Runner = { name, proc, positions: [], arrivals: [], ready: false, stderr: '' };
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'READY') runner.ready = true;
      else if (line.startsWith('E ')) {
        runner.positions.push(line.slice(2));
        runner.arrivals.push(arrivals++);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      runner.stderr = (runner.stderr + d.toString()).slice(-4000);
    });
    runners.push(runner);
    return runner;
  }

  it('shares partitions, survives kill -9 of one instance, and loses nothing', async () => {
    const firstHalf = 2000;
    await produce(kafka.client(), topic, updates('orders', firstHalf, 200));
    const a = startRunner('a');
    const b = startRunner('b');
    // Either instance may join the group first and drain records from every partition before
    // the other joins, and batches fetched before a rebalance can still be handed out just after
    // it. So the share is judged only on what each received once both were receiving and a
    // settling margin had passed; keep feeding small chunks until both received some then.
    const SETTLE = 50;
    const settledAt = (): number | undefined => (a.arrivals.length > 0 && b.arrivals.length > 0 ? Math.max(a.arrivals[0], b.arrivals[0]) + SETTLE : undefined);
    const settled = (r: Runner): string[] => {
      const from = settledAt();
      return from === undefined ? [] : r.positions.filter((_, i) => r.arrivals[i] > from);
    };
    let produced = firstHalf;
    await waitFor(
      'both runners to receive events once both are in the group',
      async () => {
        if (settled(a).length > 0 && settled(b).length > 0) return true;
        if (a.ready && b.ready) {
          await produce(kafka.client(), topic, updates('orders', 100, 200, produced));
          produced += 100;
        }
        return false;
      },
      60_000,
      500,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nA stderr: ${a.stderr}\nB stderr: ${b.stderr}`);
    });
    const partitionsIn = (positions: readonly string[]) => new Set(positions.map((p) => p.split('/')[1]));
    const partitionsOf = (r: Runner) => partitionsIn(r.positions);
    const aShare = partitionsIn(settled(a));
    const bShare = partitionsIn(settled(b));
    assert.ok(aShare.size < 4 && bShare.size < 4, `the partitions were shared between the two instances: a ${[...aShare]}, b ${[...bShare]}`);

    a.proc.kill('SIGKILL');
    await new Promise<void>((r) => (a.proc.exitCode !== null || a.proc.signalCode !== null ? r() : a.proc.once('exit', () => r())));
    const aHandedOut = a.positions.length;

    await produce(kafka.client(), topic, updates('orders', 2000, 200, produced));
    const total = produced + 2000;
    const seen = () => new Set([...a.positions, ...b.positions]);
    await waitFor('every record to be handed out', async () => seen().size === total, 120_000).catch((err) => {
      throw new Error(`${(err as Error).message}: ${seen().size}/${total}\nB stderr: ${b.stderr}`);
    });
    assert.equal(partitionsOf(b).size, 4, 'b took over the partitions of the killed instance');
    assert.ok(aHandedOut < total, 'a was killed before the end of the stream');

    const ends = await endOffsets(kafka.client(), topic);
    await waitFor('b to commit every partition to the end', async () => {
      const committed = await committedOffsets(kafka.client(), groupId, topic);
      return Object.keys(ends).every((k) => committed[k] === ends[k]);
    }, 60_000);

    // Re-deliveries are allowed (at-least-once), losses are not: every offset of every partition was seen.
    for (const [key, end] of Object.entries(ends)) {
      for (let o = 0n; o < BigInt(end); o++) assert.ok(seen().has(`${key}/${o}`), `${key}/${o} was never handed out`);
    }
    b.proc.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => b.proc.once('exit', (c) => r(c)));
    assert.equal(code, 0, `b stops cleanly on SIGTERM\n${b.stderr}`);
  });
});
