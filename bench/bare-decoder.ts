import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';

/**
 * The baseline: pg-logical-replication decoding pgoutput with no sinks at all. It counts
 * row messages and commits and acks once at the end. Whatever the worker does on top of
 * this (rules, Redis, pub/sub, checkpointing) is what the ratio measures.
 */
export async function drainBare(
  connectionString: string,
  slot: string,
  publication: string,
  expectedRows: number,
): Promise<{ seconds: number; rows: number; commits: number }> {
  const service = new LogicalReplicationService(
    { connectionString },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] });
  let rows = 0;
  let commits = 0;
  let lastCommitLsn = '';
  const start = process.hrtime.bigint();
  let end = start;
  const done = new Promise<void>((resolve, reject) => {
    service.on('data', (_lsn: string, msg: { tag: string; commitEndLsn?: string }) => {
      if (msg.tag === 'insert' || msg.tag === 'update' || msg.tag === 'delete') rows++;
      else if (msg.tag === 'commit') {
        commits++;
        lastCommitLsn = msg.commitEndLsn ?? lastCommitLsn;
        if (rows >= expectedRows) {
          end = process.hrtime.bigint();
          resolve();
        }
      }
    });
    service.on('error', reject);
  });
  void service.subscribe(plugin, slot, '0/0').catch(() => undefined);
  await done;
  await service.acknowledge(lastCommitLsn);
  await service.stop();
  return { seconds: Number(end - start) / 1e9, rows, commits };
}

/**
 * The latency baseline: the same decoder, no sinks, timing each transaction from its commit
 * timestamp to the moment its COMMIT message is decoded here. What the worker adds on top
 * (rules, Redis round trips, batching) is the difference.
 */
export async function liveBare(
  connectionString: string,
  slot: string,
  publication: string,
): Promise<{ latenciesMs: number[]; stop: () => Promise<void> }> {
  const service = new LogicalReplicationService({ connectionString }, { acknowledge: { auto: false, timeoutSeconds: 0 } });
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] });
  const latenciesMs: number[] = [];
  let commitUs = 0n;
  let lastLsn = '';
  service.on('data', (_lsn: string, msg: { tag: string; commitTime?: bigint; commitEndLsn?: string }) => {
    if (msg.tag === 'begin') commitUs = msg.commitTime as bigint;
    else if (msg.tag === 'commit') {
      latenciesMs.push(performance.timeOrigin + performance.now() - Number(commitUs) / 1000);
      lastLsn = msg.commitEndLsn ?? lastLsn;
    }
  });
  service.on('error', () => undefined);
  void service.subscribe(plugin, slot, '0/0').catch(() => undefined);
  return {
    latenciesMs,
    stop: async () => {
      if (lastLsn) await service.acknowledge(lastLsn).catch(() => undefined);
      await service.stop();
    },
  };
}
