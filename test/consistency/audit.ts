import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { parseL1Message } from '@cdc/protocol';
import { parseLsn } from '@cdc/source-postgres';
import { PostgresServer, waitFor } from '@cdc/testing';
import { WorkerProcess } from '../support/worker-process';
import { AuditRedis, connect, startAuditRedis } from './audit-redis';
import {
  CHANNEL,
  Cached,
  FromReader,
  KeySpec,
  MODES,
  Mode,
  PREFIX,
  RULES,
  ReadRecord,
  SCHEMA_SQL,
  ToReader,
  keySpec,
  nowMs,
  parseSpec,
  targetsOf,
} from './audit-workload';

/**
 * The consistency audit (DESIGN.md promise 8, issue 9): real Postgres with logical WAL, real
 * Redis (standalone, or a 3-master Cluster), the real worker process, reader processes each with its own cache (the library,
 * plain cache-aside, bentocache) over the same keys, writers bumping a version column,
 * loaders that sometimes pause between their SELECT and the fill, faults during the run
 * (kill -9 of the worker, CLIENT KILL TYPE pubsub, a Redis or Cluster node restart), then deterministic
 * race probes, then quiescence and a check of every L2 value and every L1 entry against
 * the database. Driven from one process; the readers are forked children.
 */
export interface AuditOptions {
  readonly seconds: number;
  readonly readersPerMode: Readonly<Record<Mode, number>>;
  readonly readerConcurrency: number;
  readonly writers: number;
  /** Pause between two commits of one writer. */
  readonly writeDelayMs: number;
  readonly items: number;
  readonly groups: number;
  readonly pauseProbability: number;
  readonly pauseMaxMs: number;
  readonly faults: boolean;
  /** Postgres with a synchronous standby: commits reach the walsender well before they are visible (issue 12). */
  readonly synchronousStandby: boolean;
  readonly redis: 'standalone' | 'cluster';
  /** Cluster: nodes persist (AOF), so the restarted master keeps its tag sets. Default true. */
  readonly clusterPersistent?: boolean;
  /** Extra worker environment, e.g. PG_WAIT_FOR_VISIBILITY=false to show what the visibility check prevents. */
  readonly workerEnv: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

export const CI_OPTIONS: AuditOptions = {
  seconds: 14,
  readersPerMode: { library: 2, 'cache-aside': 1, bentocache: 1 },
  readerConcurrency: 4,
  writers: 2,
  writeDelayMs: 8,
  items: 40,
  groups: 8,
  pauseProbability: 0.2,
  pauseMaxMs: 30,
  faults: true,
  // The case that exposes deletes landing before the commit is visible (issue 12, part 2).
  synchronousStandby: true,
  redis: 'standalone',
  workerEnv: {},
  log: () => undefined,
};

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface ModeReport {
  readonly mode: Mode;
  readonly readers: number;
  readonly reads: number;
  readonly readErrors: number;
  /** Reads that started after a newer version's commit was acknowledged and still returned the older one. */
  readonly staleReads: number;
  /** Per superseded version that was read after its successor committed: commit → last stale read (ms). */
  readonly window: Distribution;
  /** The same, measured from the moment the worker's L1 message for it arrived (ms): staleness beyond the worker's own lag. */
  readonly beyondLag: Distribution;
  /**
   * The stale reads behind beyondLag, by where they began: before this reader's own subscriber
   * had applied the message (delivery to it was later than to the driver's), or after it.
   */
  readonly beyondLagReads: { beforeOwnEviction: number; afterOwnEviction: number; afterSamples: string[] } | null;
  /** Per message and reader: the driver's subscriber heard it → this reader had applied it (ms; the library only). */
  readonly delivery: Distribution | null;
  /** After quiescence. */
  readonly l2: { checked: number; stale: number };
  readonly l1: { checked: number; stale: number } | null;
  readonly reads_after: { checked: number; stale: number };
  readonly staleSamples: string[];
  readonly probes: Record<KeySpec, string>;
  readonly stats: Record<string, unknown>[];
}

export interface AuditReport {
  readonly seconds: number;
  readonly commits: number;
  /** Per commit: the writer's acknowledgement → the first L1 message covering it at the driver's subscriber. */
  readonly workerLag: Distribution;
  readonly setup: string;
  readonly faults: string[];
  readonly modes: ModeReport[];
}

/** Entries the random reads use, and the probe entries (each read once, under a forced race). */
function specs(o: AuditOptions): { random: KeySpec[]; probes: KeySpec[]; probeIds: number[] } {
  const random: KeySpec[] = [];
  for (let id = 1; id <= o.items; id++) random.push(keySpec('item', id), keySpec('view', id));
  for (let g = 1; g <= o.groups; g++) random.push(keySpec('group', g));
  // Probe rows live in groups of their own, so nothing else reads or invalidates them.
  return { random, probes: [keySpec('item', 1001), keySpec('view', 1002), keySpec('group', 1003)], probeIds: [1001, 1002, 1003] };
}

/** The L1 message target naming row `id`'s own key. */
function rowKeyTarget(id: number): string {
  return `key:item:${id}`;
}

/** What invalidates an entry: the target whose L1 message arrival we time. */
function targetOf(spec: KeySpec): string {
  const { kind, n } = parseSpec(spec);
  return kind === 'item' ? rowKeyTarget(n) : kind === 'view' ? `tag:item-${n}` : `tag:grp-${n}`;
}

class Reader {
  readonly reads: ReadRecord[] = [];
  /** When this process's own subscriber applied each message, by target (the library only). */
  readonly heard: Arrivals = new Map();
  errors = 0;
  stats: Record<string, unknown> = {};
  private readonly waiters: Array<(m: FromReader) => boolean> = [];

  constructor(
    readonly mode: Mode,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: FromReader) => {
      if (m.type === 'reads') {
        this.reads.push(...m.reads);
        this.errors += m.errors;
        for (const h of m.heard) for (const target of h.targets) push(this.heard, target, { t: h.t, lsn: h.lsn });
      }
      if (m.type === 'stopped') this.stats = m.stats;
      for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i](m)) this.waiters.splice(i, 1);
    });
  }

  send(m: ToReader): void {
    this.proc.send(m);
  }

  next<T extends FromReader['type']>(type: T, match: (m: Extract<FromReader, { type: T }>) => boolean = () => true, timeoutMs = 30_000): Promise<Extract<FromReader, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.mode} reader: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m) => {
        if (m.type !== type || !match(m as Extract<FromReader, { type: T }>)) return false;
        clearTimeout(timer);
        resolve(m as Extract<FromReader, { type: T }>);
        return true;
      });
    });
  }
}

export async function runAudit(o: AuditOptions): Promise<AuditReport> {
  const { random, probes, probeIds } = specs(o);
  const seed = [
    `INSERT INTO items SELECT g, (g % ${o.groups}) + 1, 0 FROM generate_series(1, ${o.items}) g;`,
    ...probeIds.map((id) => `INSERT INTO items VALUES (${id}, ${id}, 0);`),
  ].join('\n');
  const pg = await PostgresServer.start({ synchronousStandby: o.synchronousStandby });
  let redis: AuditRedis | undefined;
  let worker: WorkerProcess | undefined;
  let watcher: AuditRedis['client'] | undefined;
  let pool: Pool | undefined;
  const readers: Reader[] = [];
  try {
    await pg.query(SCHEMA_SQL + seed);
    redis = await startAuditRedis(o.redis, { persistent: o.clusterPersistent });
    const r = redis.client;
    const dir = mkdtempSync(join(tmpdir(), 'cdc-consistency-'));
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, RULES);
    const workerEnv = { DATABASE_URL: pg.url, RULES_FILE: rulesFile, PG_SLOT: 'audit', PG_PUBLICATION: 'audit', SHUTDOWN_TIMEOUT_MS: '5000', ...redis.workerEnv(), ...o.workerEnv };
    worker = new WorkerProcess(workerEnv, join(dir, 'worker.log'));
    pool = new Pool({ connectionString: pg.url, max: o.writers + 2 });
    await worker.start();
    o.log(`stack up, Redis ${redis.kind} (worker log ${join(dir, 'worker.log')})`);

    // When each invalidation reached a subscriber, and the position it covers: the worker's own lag, to tell it apart from the caches'.
    const arrivals: Arrivals = new Map();
    watcher = connect(redis.target, { maxRetriesPerRequest: null });
    watcher.on('error', () => undefined);
    await watcher.subscribe(CHANNEL);
    watcher.on('message', (_c: string, text: string) => {
      const t = nowMs();
      const parsed = parseL1Message(text);
      if (parsed.kind !== 'v1' && parsed.kind !== 'v2') return;
      const m = parsed.message;
      if (m.v === 2 && m.type === 'heartbeat') return;
      const lsn = Number(parseLsn(m.position));
      for (const target of targetsOf(m)) push(arrivals, target, { t, lsn });
    });

    for (const mode of MODES) {
      for (let i = 0; i < o.readersPerMode[mode]; i++) {
        const proc = fork(join(__dirname, 'reader-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        const reader = new Reader(mode, proc);
        readers.push(reader);
        const ready = reader.next('ready');
        reader.send({
          type: 'config',
          mode,
          redis: redis.target,
          databaseUrl: pg.url,
          concurrency: o.readerConcurrency,
          specs: random,
          pauseProbability: o.pauseProbability,
          pauseMaxMs: o.pauseMaxMs,
        });
        await ready;
      }
    }
    for (const r of readers) r.send({ type: 'run' });
    o.log(`${readers.length} readers running`);

    // Writers: the exact version each commit produced, when the writer had its acknowledgement,
    // and a WAL position between the row's previous commit and this one (the row lock orders them):
    // the first L1 message at or past it is the one that covers this commit.
    const commits: Commits = new Map();
    let commitCount = 0;
    const commit = async (id: number): Promise<{ sent: number; ack: number }> => {
      const sent = nowMs();
      const res = await pool!.query<{ version: number; lsn: string }>(
        `UPDATE items SET version = version + 1 WHERE id = $1 RETURNING version, (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::text AS lsn`,
        [id],
      );
      const t = nowMs();
      const v = res.rows[0].version;
      let m = commits.get(id);
      if (!m) commits.set(id, (m = new Map()));
      m.set(v, { ack: t, lsn: Number(res.rows[0].lsn) });
      commitCount++;
      return { sent, ack: t };
    };
    let writing = true;
    const writerLoops = Array.from({ length: o.writers }, async () => {
      while (writing) {
        await commit(1 + Math.floor(Math.random() * o.items)).catch(() => undefined);
        await sleep(o.writeDelayMs);
      }
    });

    const faults: string[] = [];
    const started = Date.now();
    const at = (fraction: number) => sleep(Math.max(0, started + fraction * o.seconds * 1000 - Date.now()));
    if (o.faults) {
      await at(0.2);
      await worker.kill9();
      faults.push(`${((Date.now() - started) / 1000).toFixed(1)}s kill -9 worker`);
      await worker.start();
      faults.push(`${((Date.now() - started) / 1000).toFixed(1)}s worker ready again`);
      await at(0.4);
      const killed = await redis.killPubSub();
      faults.push(`${((Date.now() - started) / 1000).toFixed(1)}s CLIENT KILL TYPE pubsub (${String(killed)} connections)`);
      await at(0.55);
      const restarted = await redis.restart();
      faults.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${restarted}`);
    }
    for (const f of faults) o.log(f);

    // Deterministic races: every mode's loader has read the old row when the change commits,
    // and fills only after the worker has invalidated it.
    await at(0.75);
    const probeOutcome = new Map<Mode, Record<KeySpec, string>>(MODES.map((m) => [m, {}]));
    const probers = MODES.map((mode) => readers.find((r) => r.mode === mode)).filter((r): r is Reader => !!r);
    for (const [i, spec] of probes.entries()) {
      const selected = probers.map((r) => r.next('probe-selected', (m) => m.spec === spec));
      const done = probers.map((r) => r.next('probe-done', (m) => m.spec === spec, 120_000));
      done.forEach((d) => d.catch(() => undefined)); // awaited below; a timeout must not be unhandled meanwhile
      for (const r of probers) r.send({ type: 'probe', spec });
      await Promise.all(selected);
      // The invalidation may arrive before the writer's own COMMIT acknowledgement (synchronous standby): time from the send.
      const { sent } = await commit(probeIds[i]);
      const target = targetOf(spec);
      await waitFor(`the invalidation of ${spec}`, async () => (arrivals.get(target) ?? []).some((a) => a.t > sent), 60_000, 5);
      await sleep(20);
      for (const r of probers) r.send({ type: 'resume', spec });
      for (const [j, d] of (await Promise.all(done)).entries()) probeOutcome.get(probers[j].mode)![spec] = d.error ?? 'read';
    }
    o.log('race probes done');

    await at(1);
    writing = false;
    await Promise.all(writerLoops);
    // A marker committed after every write: once the worker deleted its key, it has applied everything before.
    await r.set('marker:done', '1');
    await pool.query(`INSERT INTO markers VALUES ('done')`);
    await waitFor('the worker to catch up', async () => (await r.exists('marker:done')) === 0, 60_000, 20);
    await sleep(300); // the L1 messages of the last batches reach every subscriber
    const stopped = readers.map((r) => r.next('stopped'));
    for (const r of readers) r.send({ type: 'stop' });
    await Promise.all(stopped);
    o.log('quiescent; checking');

    // The truth.
    const { rows } = await pool.query<{ id: number; grp: number; version: number }>('SELECT id, grp, version FROM items ORDER BY id');
    const truth = new Map<KeySpec, string>();
    const all = [...random, ...probes];
    for (const spec of all) {
      const { kind, n } = parseSpec(spec);
      const picked = kind === 'group' ? rows.filter((r) => r.grp === n) : rows.filter((r) => r.id === n);
      truth.set(spec, JSON.stringify(picked.map((r) => [r.id, r.version])));
    }
    const isStale = (spec: KeySpec, v: Cached | null | undefined) => !!v && JSON.stringify(v.rows) !== truth.get(spec);

    const dumps = await Promise.all(
      readers.map(async (r) => {
        const d = r.next('dump');
        r.send({ type: 'dump', specs: all });
        return { reader: r, dump: await d };
      }),
    );

    const modes: ModeReport[] = [];
    for (const mode of MODES) {
      const mine = readers.filter((r) => r.mode === mode);
      if (mine.length === 0) continue;
      const samples: string[] = [];
      let l2Checked = 0;
      let l2Stale = 0;
      for (const spec of all) {
        const raw = await r.get(PREFIX[mode] + spec);
        const v = decodeL2(mode, raw);
        if (!v) continue;
        l2Checked++;
        if (isStale(spec, v)) {
          l2Stale++;
          if (samples.length < 6) samples.push(`L2 ${PREFIX[mode]}${spec} = ${JSON.stringify(v.rows)}, db ${truth.get(spec)}`);
        }
      }
      let l1: { checked: number; stale: number } | null = null;
      const after = { checked: 0, stale: 0 };
      for (const { reader, dump } of dumps) {
        if (reader.mode !== mode) continue;
        for (const [spec, v] of Object.entries(dump.l1)) {
          l1 ??= { checked: 0, stale: 0 };
          if (!v) continue;
          l1.checked++;
          if (isStale(spec, v)) {
            l1.stale++;
            if (samples.length < 6) samples.push(`L1 ${spec} = ${JSON.stringify(v.rows)}, db ${truth.get(spec)}`);
          }
        }
        for (const [spec, v] of Object.entries(dump.read)) {
          if (!v) continue;
          after.checked++;
          if (isStale(spec, v)) {
            after.stale++;
            if (samples.length < 6) samples.push(`read ${spec} = ${JSON.stringify(v.rows)}, db ${truth.get(spec)}`);
          }
        }
      }
      const windows = staleness(mine, commits, arrivals);
      modes.push({
        mode,
        readers: mine.length,
        reads: mine.reduce((n, r) => n + r.reads.length, 0),
        readErrors: mine.reduce((n, r) => n + r.errors, 0),
        staleReads: windows.staleReads,
        window: windows.window,
        beyondLag: windows.beyondLag,
        beyondLagReads: windows.beyondLagReads,
        delivery: windows.delivery,
        l2: { checked: l2Checked, stale: l2Stale },
        l1,
        reads_after: after,
        staleSamples: samples,
        probes: probeOutcome.get(mode) ?? {},
        stats: mine.map((r) => r.stats),
      });
    }
    const setup = [`Redis ${redis.kind}`, o.synchronousStandby ? 'synchronous standby' : 'no standby', ...Object.entries(o.workerEnv).map(([k, v]) => `${k}=${v}`)].join(', ');
    return { seconds: o.seconds, commits: commitCount, workerLag: workerLag(commits, arrivals), setup, faults, modes };
  } finally {
    for (const reader of readers) if (reader.proc.exitCode === null) reader.proc.kill('SIGKILL');
    watcher?.disconnect();
    await pool?.end().catch(() => undefined);
    await worker?.terminate().catch(() => undefined);
    await redis?.destroy();
    await pg.destroy();
  }
}

/** An L2 value in each mode's own format, or null when absent or not understood. */
function decodeL2(mode: Mode, raw: string | null): Cached | null {
  if (raw === null) return null;
  try {
    if (mode === 'library') {
      // The library's entry: one metadata line, then the serialized value (negative entries have none).
      const nl = raw.indexOf('\n');
      const payload = raw.slice(nl + 1);
      return payload ? (JSON.parse(payload) as Cached) : null;
    }
    const parsed = JSON.parse(raw) as unknown;
    return findCached(parsed);
  } catch {
    return null;
  }
}

/** bentocache wraps the value in its own envelope (value, logical expiry, ...): find our object inside. */
function findCached(v: unknown): Cached | null {
  if (typeof v === 'string') {
    try {
      return findCached(JSON.parse(v));
    } catch {
      return null;
    }
  }
  if (typeof v !== 'object' || v === null) return null;
  if (Array.isArray((v as Cached).rows)) return v as Cached;
  for (const inner of Object.values(v)) {
    const found = findCached(inner);
    if (found) return found;
  }
  return null;
}

/** One L1 message reaching the driver's own subscriber: when, and the WAL position it covers. */
interface Arrival {
  readonly t: number;
  readonly lsn: number;
}
type Arrivals = Map<string, Arrival[]>;
/** Per row id, per version: the writer's acknowledgement and a WAL position inside that commit. */
type Commits = Map<number, Map<number, { ack: number; lsn: number }>>;

/** The first message for a target that covers a commit: the first arrival at or past the commit's position. */
function coveringArrival(arrivals: readonly Arrival[] | undefined, lsn: number): number | undefined {
  let first: number | undefined;
  for (const a of arrivals ?? []) if (a.lsn >= lsn && (first === undefined || a.t < first)) first = a.t;
  return first;
}

/**
 * When the message for a row's commit reached a subscriber, as seen for one read target.
 * The position is taken inside the commit, so for a tag (shared by many rows) a message for
 * another row's commit that landed between it and this commit would already count as
 * covering it; a message naming this row's own key at or past the position must be this
 * commit's or a later one (the row lock orders them). So: the later of the two.
 */
function commitArrival(arrivals: Arrivals, target: string, id: number, lsn: number): number | undefined {
  const forTarget = coveringArrival(arrivals.get(target), lsn);
  const own = rowKeyTarget(id);
  if (target === own || forTarget === undefined) return forTarget;
  const forRow = coveringArrival(arrivals.get(own), lsn);
  return forRow === undefined ? forTarget : Math.max(forTarget, forRow);
}

function staleness(
  readers: readonly Reader[],
  commits: Commits,
  arrivals: Arrivals,
): Pick<ModeReport, 'staleReads' | 'window' | 'beyondLag' | 'beyondLagReads' | 'delivery'> {
  // Per (entry, superseded version): the longest time a read went on returning it.
  const windows = new Map<string, number>();
  const beyond = new Map<string, number>();
  const covering = new Map<string, number | undefined>();
  const causes = { beforeOwnEviction: 0, afterOwnEviction: 0, afterSamples: [] as string[] };
  const hears = readers.some((r) => r.heard.size > 0);
  let staleReads = 0;
  for (const reader of readers) {
    for (const r of reader.reads) {
      let stale = false;
      let late: 'beforeOwnEviction' | 'afterOwnEviction' | undefined;
      for (const [id, v] of r.rows) {
        const newer = commits.get(id)?.get(v + 1);
        if (newer === undefined || newer.ack >= r.t) continue;
        stale = true;
        const key = `${r.spec}|${id}|${v}`;
        windows.set(key, Math.max(windows.get(key) ?? 0, r.t - newer.ack));
        if (!covering.has(key)) covering.set(key, commitArrival(arrivals, targetOf(r.spec), id, newer.lsn));
        const arrival = covering.get(key);
        if (arrival === undefined || arrival >= r.t) continue;
        beyond.set(key, Math.max(beyond.get(key) ?? 0, r.t - arrival));
        const own = commitArrival(reader.heard, targetOf(r.spec), id, newer.lsn);
        const after = own !== undefined && own <= r.t;
        if (after && causes.afterSamples.length < 5) {
          causes.afterSamples.push(
            `${r.spec} row ${id} v${v}: v${v + 1} acked ${(r.t - newer.ack).toFixed(1)} ms and applied here ${(r.t - own).toFixed(1)} ms before the read began; the read took ${(r.end - r.t).toFixed(1)} ms`,
          );
        }
        if (late !== 'afterOwnEviction') late = after ? 'afterOwnEviction' : 'beforeOwnEviction';
      }
      if (stale) staleReads++;
      if (late) causes[late]++;
    }
  }
  const delivery: number[] = [];
  for (const reader of readers) {
    for (const [target, heard] of reader.heard) {
      const driver = arrivals.get(target) ?? [];
      for (const h of heard) {
        const first = driver.find((a) => a.lsn === h.lsn);
        if (first) delivery.push(h.t - first.t);
      }
    }
  }
  return {
    staleReads,
    window: distribution([...windows.values()]),
    beyondLag: distribution([...beyond.values()]),
    beyondLagReads: hears ? causes : null,
    delivery: hears ? distribution(delivery) : null,
  };
}

function push(map: Arrivals, target: string, a: Arrival): void {
  let list = map.get(target);
  if (!list) map.set(target, (list = []));
  list.push(a);
}

/** The worker's own lag: per commit, its acknowledgement → the first L1 message covering it (key target; < 0 when the message came first). */
function workerLag(commits: Commits, arrivals: Arrivals): Distribution {
  const lags: number[] = [];
  for (const [id, versions] of commits) {
    const list = arrivals.get(rowKeyTarget(id));
    for (const c of versions.values()) {
      const arrival = coveringArrival(list, c.lsn);
      if (arrival !== undefined) lags.push(arrival - c.ack);
    }
  }
  return distribution(lags);
}

function distribution(values: number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  values.sort((a, b) => a - b);
  const q = (p: number) => values[Math.min(values.length - 1, Math.floor(p * values.length))];
  return { count: values.length, p50: q(0.5), p99: q(0.99), max: values[values.length - 1] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The report as a table (the e2e test prints it; audit-report.ts too). */
export function formatReport(report: AuditReport): string {
  const ms = (d: Distribution) => (d.count === 0 ? '0' : `${d.count} (p50 ${d.p50.toFixed(1)}, p99 ${d.p99.toFixed(1)}, max ${d.max.toFixed(1)})`);
  const lines = [
    `consistency audit: ${report.seconds}s, ${report.commits} commits, ${report.setup}; faults: ${report.faults.join('; ') || 'none'}`,
    `worker lag, commit acknowledged → its L1 message at a subscriber, ms: ${ms(report.workerLag)}`,
    '',
    '| mode | readers | reads | stale reads during run | staleness window commit→last stale read, ms | beyond the worker\'s lag, ms | stale after quiescence: L2 | L1 | reads |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of report.modes) {
    const frac = (x: { checked: number; stale: number } | null) => (x ? `${x.stale}/${x.checked}` : 'n/a');
    lines.push(
      `| ${m.mode} | ${m.readers} | ${m.reads} | ${m.staleReads} | ${ms(m.window)} | ${ms(m.beyondLag)} | ${frac(m.l2)} | ${frac(m.l1)} | ${frac(m.reads_after)} |`,
    );
  }
  for (const m of report.modes) {
    if (m.beyondLagReads && m.delivery) {
      lines.push(
        '',
        `${m.mode}: stale reads beyond the worker's lag: ${m.beyondLagReads.beforeOwnEviction} began before the reader's own subscriber had applied the message, ` +
          `${m.beyondLagReads.afterOwnEviction} after; delivery driver's subscriber → reader applied, ms: ${ms(m.delivery)}`,
        ...m.beyondLagReads.afterSamples.map((x) => `  after: ${x}`),
      );
    }
    const loop = m.stats.map((s) => s.eventLoopDelayMs as { p50: number; p99: number; max: number } | undefined).filter((d) => d !== undefined);
    if (loop.length > 0) {
      lines.push(`${m.mode}: readers' event-loop delay, ms: ${loop.map((d) => `p50 ${d.p50.toFixed(1)} p99 ${d.p99.toFixed(1)} max ${d.max.toFixed(1)}`).join('; ')}`);
    }
  }
  for (const m of report.modes) {
    if (m.staleSamples.length > 0) lines.push('', `${m.mode}, stale after quiescence (sample):`, ...m.staleSamples.map((s) => `  ${s}`));
    const lib = m.stats.find((s) => 'fillsRefused' in s) as Record<string, unknown> | undefined;
    if (lib) {
      const sum = (name: string) => m.stats.reduce((n, s) => n + Number((s as Record<string, unknown>)[name] ?? 0), 0);
      const flushes = m.stats.map((s) => JSON.stringify((s as Record<string, unknown>).flushes)).join(' ');
      lines.push('', `${m.mode}: fills refused by a revoked lease ${sum('fillsRefused')}, lease waits ${sum('leaseWaits')}, L1 flushes ${flushes}`);
    }
  }
  return lines.join('\n');
}
