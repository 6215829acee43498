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
import { parseArgs } from 'node:util';
import { CI_OPTIONS, formatReport, runAudit } from './audit';

const USAGE = `usage: node dist/test/consistency/audit-report.js [options]
  --seconds N                 workload duration (default 60, at least 5)
  --cluster                   a 3-master Redis Cluster (persistent masters) instead of one server
  --cluster-no-persistence    the same with masters that restart empty
  --no-faults                 no kill -9, no CLIENT KILL, no Redis restart
  --no-standby                no synchronous standby
  --env NAME=VALUE            an environment variable for the worker (repeatable)
  -h, --help                  this text
Exit code: 0 when the library left nothing stale, 1 when it did, 2 on an error.`;

async function main(): Promise<void> {
  // parseArgs refuses unknown flags, so a typo cannot silently start a 60 s run.
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      cluster: { type: 'boolean', default: false },
      'cluster-no-persistence': { type: 'boolean', default: false },
      'no-faults': { type: 'boolean', default: false },
      'no-standby': { type: 'boolean', default: false },
      env: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 5) throw new Error('--seconds must be a number >= 5');
  const workerEnv: Record<string, string> = {};
  for (const pair of values.env) {
    const [name, ...rest] = pair.split('=');
    if (!name || rest.length === 0) throw new Error('--env takes NAME=VALUE');
    workerEnv[name] = rest.join('=');
  }
  const report = await runAudit({
    ...CI_OPTIONS,
    seconds,
    faults: !values['no-faults'],
    synchronousStandby: !values['no-standby'],
    redis: values.cluster || values['cluster-no-persistence'] ? 'cluster' : 'standalone',
    clusterPersistent: !values['cluster-no-persistence'],
    workerEnv,
    log: (l) => console.error(l),
  });
  console.log(formatReport(report));
  const lib = report.modes.find((m) => m.mode === 'library');
  if (lib && lib.l2.stale + (lib.l1?.stale ?? 0) + lib.reads_after.stale > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS') ? `${err.message}\n${USAGE}` : err);
  process.exit(2);
});
