import { describe, it } from 'node:test';
import { CI_OPTIONS, formatReport, runAudit } from './audit';
import { assertAuditVerdict } from './audit-verdict';

/**
 * DESIGN.md promise 8: once the worker has applied a commit, a read through the client
 * library returns nothing older, from L2 or L1, across kill -9 of the worker, killed pub/sub
 * connections and a Redis restart; and the same workload through plain cache-aside and
 * bentocache leaves stale entries (the audit can fail). The Cluster variant is
 * consistency-cluster.e2e.spec.ts. The longer run is
 * `node dist/test/consistency/audit-report.js --seconds 60`.
 */
describe('consistency audit', { timeout: 180_000 }, () => {
  it('the library leaves 0 stale entries in L2 and every L1; cache-aside and bentocache leave some', async () => {
    const report = await runAudit({ ...CI_OPTIONS, log: (line) => process.stdout.write(`# ${line}\n`) });
    process.stdout.write(formatReport(report).replace(/^/gm, '# ') + '\n');
    assertAuditVerdict(report);
  });
});
