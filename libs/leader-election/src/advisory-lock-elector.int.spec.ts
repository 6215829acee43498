import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, metricsRegistry } from '@cdc/core';
import { PostgresServer, waitFor } from '@cdc/testing';
import { AdvisoryLockElector, DemotionReason } from './advisory-lock-elector';

/** Records what an elector told the app. */
function recorder(): { events: string[]; elected: () => Promise<void>; demoted: (r: DemotionReason) => Promise<void> } {
  const events: string[] = [];
  return {
    events,
    elected: async () => void events.push('elected'),
    demoted: async (reason) => void events.push(`demoted:${reason}`),
  };
}

/** Runs lock-holder.test-helper (compiled .js, or .ts under tsx) in a child node process. */
function spawnLockHolder(url: string, lockName: string): { proc: ChildProcess; output: () => string } {
  const script = join(__dirname, `lock-holder.test-helper${extname(__filename)}`);
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
  const proc = spawn(process.execPath, [...execArgv, script], {
    env: { ...process.env, LOCK_PG_URL: url, LOCK_NAME: lockName, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return { proc, output: () => out };
}

describe('AdvisoryLockElector (real Postgres)', () => {
  let pg: PostgresServer;
  const electors: AdvisoryLockElector[] = [];
  const children: ChildProcess[] = [];

  function elector(lockKey: string): AdvisoryLockElector {
    const e = new AdvisoryLockElector({ connectionString: pg.url, lockKey, retryIntervalMs: 100 });
    electors.push(e);
    return e;
  }

  /** Backend pids holding the advisory lock of `e`. */
  async function holders(e: AdvisoryLockElector): Promise<number[]> {
    const rows = await pg.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::int8::oid AND objid = $2::int8::oid`,
      [e.lock.classid, e.lock.objid],
    );
    return rows.map((r) => r.pid);
  }

  before(async () => {
    pg = await PostgresServer.start();
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const e of electors) await e.stop();
    await pg.destroy();
  });

  it('two electors on one lock: exactly one leads; stop() hands over and releases the lock at once', async () => {
    const a = elector('two-electors');
    const b = elector('two-electors');
    const ra = recorder();
    const rb = recorder();
    await a.start(ra.elected, ra.demoted);
    await b.start(rb.elected, rb.demoted);
    assert.equal(a.role, 'leader', 'the first to start takes the free lock');
    assert.equal(b.role, 'standby');
    // Several standby polls later, still exactly one leader.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual([a.role, b.role], ['leader', 'standby']);
    assert.deepEqual(ra.events, ['elected']);
    assert.deepEqual(rb.events, []);
    const [leaderPid] = await holders(a);
    assert.ok(leaderPid, 'the lock is visible in pg_locks');
    assert.match(await metricsRegistry.getSingleMetricAsString('cdc_leader_transitions_total'), /to="leader"/);

    await a.stop();
    assert.deepEqual(ra.events, ['elected', 'demoted:stopped'], 'the leader is told to stop before it lets go');
    assert.ok(!(await holders(a)).includes(leaderPid), 'the old session no longer holds the lock when stop() resolves');
    await waitFor('the standby to take over', async () => b.role === 'leader', 5000);
    assert.deepEqual(rb.events, ['elected']);
    assert.equal((await holders(b)).length, 1);
  });

  it('kill -9 of the leader process: a standby becomes leader', async () => {
    const holder = spawnLockHolder(pg.url, 'kill-nine');
    children.push(holder.proc);
    await waitFor('the child to lead', async () => holder.output().includes('LEADER'), 20_000);
    const standby = elector('kill-nine');
    const r = recorder();
    await standby.start(r.elected, r.demoted);
    assert.equal(standby.role, 'standby', 'the child holds the lock');
    const childPids = await holders(standby);
    assert.equal(childPids.length, 1);

    holder.proc.kill('SIGKILL');
    // The server sees the socket close, the backend exits and the session lock goes with it.
    await waitFor('the standby to become leader', async () => standby.role === 'leader', 10_000);
    assert.deepEqual(r.events, ['elected']);
    const now = await holders(standby);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], childPids[0]);
  });

  it('a leader whose connection is terminated demotes itself, then is re-elected on a new session', async () => {
    const e = elector('terminated');
    const r = recorder();
    await e.start(r.elected, r.demoted);
    assert.equal(e.role, 'leader');
    const [pid] = await holders(e);
    await pg.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('demotion', async () => r.events.includes('demoted:connection-lost'), 10_000);
    await waitFor('re-election', async () => e.role === 'leader', 10_000);
    assert.deepEqual(r.events, ['elected', 'demoted:connection-lost', 'elected']);
    const [newPid] = await holders(e);
    assert.ok(newPid && newPid !== pid, 'the lock is held by a new session');
  });

  it('a leader whose lock session stops answering (half-open) demotes itself at the check deadline', async () => {
    const e = new AdvisoryLockElector({ connectionString: pg.url, lockKey: 'frozen', retryIntervalMs: 100, checkTimeoutMs: 500 });
    electors.push(e);
    const r = recorder();
    await e.start(r.elected, r.demoted);
    assert.equal(e.role, 'leader');
    const [pid] = await holders(e);
    // A stopped backend keeps its socket open but never answers: what a partition looks like from the client.
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor('demotion', async () => r.events.includes('demoted:connection-lost'), 10_000);
      assert.equal(e.role, 'standby');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Once the old backend has noticed the closed socket and exited, the elector leads again.
    await waitFor('re-election', async () => e.role === 'leader', 10_000);
    assert.deepEqual(r.events, ['elected', 'demoted:connection-lost', 'elected']);
  });

  it('start() rejects with a ConfigError when the database does not exist', async () => {
    const e = new AdvisoryLockElector({ connectionString: pg.url.replace(/\/postgres$/, '/no_such_db'), slotName: 'x' });
    electors.push(e);
    await assert.rejects(e.start(async () => undefined, async () => undefined), (err: unknown) => err instanceof ConfigError);
  });
});
