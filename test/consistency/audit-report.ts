/**
 * The longer consistency audit, printed as a table:
 *   node dist/test/consistency/audit-report.js --seconds 60 [--cluster | --cluster-no-persistence] [--no-faults] [--no-standby] [--env NAME=VALUE ...]
 * --cluster runs it against a 3-master Redis Cluster instead of one standalone server;
 * --cluster-no-persistence too, with masters that restart empty (the restarted one loses the
 * tag sets it held while the keys they name live on elsewhere: stale entries, by design).
 * Postgres runs with a synchronous standby (commits reach the worker well before they are
 * visible) unless --no-standby; --env PG_WAIT_FOR_VISIBILITY=false shows what the worker's
 * visibility check prevents.
 * Same workload and checks as consistency.e2e.spec.ts (see audit.ts); exits 1 when the
 * library left a stale entry.
 */
import { CI_OPTIONS, formatReport, runAudit } from './audit';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Number(value('--seconds') ?? 60);
  if (!Number.isFinite(seconds) || seconds < 5) throw new Error('--seconds must be a number >= 5');
  const workerEnv: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a !== '--env') return;
    const [name, ...rest] = (args[i + 1] ?? '').split('=');
    if (!name || rest.length === 0) throw new Error('--env takes NAME=VALUE');
    workerEnv[name] = rest.join('=');
  });
  const report = await runAudit({
    ...CI_OPTIONS,
    seconds,
    faults: !args.includes('--no-faults'),
    synchronousStandby: !args.includes('--no-standby'),
    redis: args.includes('--cluster') || args.includes('--cluster-no-persistence') ? 'cluster' : 'standalone',
    clusterPersistent: !args.includes('--cluster-no-persistence'),
    workerEnv,
    log: (l) => console.error(l),
  });
  console.log(formatReport(report));
  const lib = report.modes.find((m) => m.mode === 'library');
  if (lib && lib.l2.stale + (lib.l1?.stale ?? 0) + lib.reads_after.stale > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
