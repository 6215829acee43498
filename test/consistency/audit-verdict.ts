import { strict as assert } from 'node:assert';
import { AuditReport } from './audit';

/**
 * What every CI run of the audit must show (consistency.e2e.spec.ts, the standalone and the
 * Cluster variants): enough work and every fault happened; the library left 0 stale entries
 * in L2, in every L1 and in what reads return, and no read beginning after its own process had
 * applied an invalidation returned an older row; and both controls (plain cache-aside and
 * bentocache, no leases) left the race probes' old values behind, so the audit can fail.
 */
export function assertAuditVerdict(report: AuditReport): void {
  const mode = (m: string) => report.modes.find((r) => r.mode === m)!;
  const lib = mode('library');

  assert.ok(report.commits > 200, `enough writes (${report.commits})`);
  assert.equal(report.faults.length, 4, 'every fault happened');
  for (const m of report.modes) assert.ok(m.reads > 500, `${m.mode}: enough reads (${m.reads})`);
  assert.ok(lib.l2.checked > 0 && lib.l1 !== null && lib.l1.checked > 0, 'the library had entries in L2 and L1 to check');
  const fillsRefused = lib.stats.reduce((n, s) => n + Number(s.fillsRefused ?? 0), 0);
  assert.ok(fillsRefused >= 3, `the race probes made the worker revoke leases under the library's fills (${fillsRefused} refused)`);

  assert.deepEqual(
    { l2: lib.l2.stale, l1: lib.l1!.stale, reads: lib.reads_after.stale },
    { l2: 0, l1: 0, reads: 0 },
    `library: stale after quiescence\n${lib.staleSamples.join('\n')}`,
  );
  // During the run: once a reader's own subscriber has applied the message for a commit, no
  // read that begins later returns an older row (an L1 can lag only by its delivery). A read
  // that joined an in-process load begun before the commit did, until FillRunner.shared.
  if (lib.beyondLagReads) {
    assert.equal(lib.beyondLagReads.afterOwnEviction, 0, `library: stale reads that began after the reader had applied the invalidation\n${lib.beyondLagReads.afterSamples.join('\n')}`);
  }
  // The controls: the three probes leave their old values in place, deterministically.
  for (const control of ['cache-aside', 'bentocache']) {
    const stale = mode(control).l2.stale;
    assert.ok(stale >= 3, `${control} must leave stale entries (found ${stale})`);
  }
}
