import { describe, it } from 'node:test';
import { CI_OPTIONS, formatReport, runAudit } from './audit';
import { assertAuditVerdict } from './audit-verdict';

/**
 * The consistency audit on a 3-master Redis Cluster (the worker with REDIS_CLUSTER_NODES,
 * every reader on a Cluster client): keys, their leases and the tag sets naming them live in
 * different slots and on different masters. Faults: kill -9 of the worker, CLIENT KILL TYPE
 * pubsub on every node, a kill -9 and restart of the master the worker publishes through
 * (persistent, see audit-redis.ts). Its own file, so the runner can run it beside the
 * standalone variant. The longer run: `node dist/test/consistency/audit-report.js --cluster --seconds 60`.
 */
describe('consistency audit on a Redis Cluster', { timeout: 180_000 }, () => {
  it('the library leaves 0 stale entries in L2 and every L1; cache-aside and bentocache leave some', async () => {
    const report = await runAudit({ ...CI_OPTIONS, redis: 'cluster', log: (line) => process.stdout.write(`# ${line}\n`) });
    process.stdout.write(formatReport(report).replace(/^/gm, '# ') + '\n');
    assertAuditVerdict(report);
  });
});
