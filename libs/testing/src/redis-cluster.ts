import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster, ClusterOptions } from 'ioredis';
import { freePort, waitFor } from './free-port';

const execFileAsync = promisify(execFile);

export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  /** Cluster bus port, chosen free explicitly (port + 10000 may not exist or be taken). */
  readonly busPort: number;
}

/**
 * A throwaway Redis Cluster of `masters` redis-server processes (no replicas, no
 * persistence unless asked) on free loopback ports, created with `redis-cli --cluster create`.
 * For tests, the demo and the benchmark. Call destroy() in `after`.
 */
export class RedisCluster {
  /** By node index (restart() replaces one). */
  private readonly procs: ChildProcess[] = [];

  private constructor(
    private readonly dir: string,
    readonly nodes: readonly RedisClusterNode[],
    private readonly persistent: boolean,
  ) {}

  /**
   * `persistent`: every node writes an append-only file fsynced on every write, so a node
   * killed with -9 and restarted comes back with its data (see restart()).
   */
  static async start(masters = 3, options: { persistent?: boolean } = {}): Promise<RedisCluster> {
    if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
    const dir = mkdtempSync(join(tmpdir(), 'cdc-redis-cluster-'));
    const nodes: RedisClusterNode[] = [];
    const taken = new Set<number>();
    const pick = async (): Promise<number> => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    for (let i = 0; i < masters; i++) nodes.push({ host: '127.0.0.1', port: await pick(), busPort: await pick() });
    const cluster = new RedisCluster(dir, nodes, options.persistent === true);
    try {
      await cluster.launch();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  private async launch(): Promise<void> {
    for (const [i, node] of this.nodes.entries()) {
      mkdirSync(join(this.dir, String(node.port)));
      this.spawnNode(i);
    }
    for (const node of this.nodes) {
      await waitFor(`redis cluster node ${node.port} to accept connections`, () => ping(node.port));
    }
    const cli = process.env.REDIS_CLI_BIN ?? 'redis-cli';
    await execFileAsync(cli, ['--cluster', 'create', ...this.nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 60_000,
    });
    for (const node of this.nodes) {
      await waitFor(`cluster_state:ok on node ${node.port}`, () => clusterStateOk(node.port), 60_000, 100);
    }
  }

  /** Starts node `index` (again): same port, same nodes.conf, so it rejoins with its slots (and no data). */
  private spawnNode(index: number): void {
    const node = this.nodes[index];
    const nodeDir = join(this.dir, String(node.port));
    const args = [
      '--port', String(node.port),
      '--cluster-port', String(node.busPort),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(nodeDir, 'nodes.conf'),
      '--cluster-node-timeout', '5000',
      '--save', '',
      ...(this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      '--dir', nodeDir,
    ];
    const proc = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: 'ignore' });
    proc.unref();
    this.procs[index] = proc;
  }

  /**
   * kill -9 of one master and a start on the same port: it comes back with its slots from
   * nodes.conf, empty unless the cluster is `persistent`. Quicker than cluster-node-timeout, so no failover or
   * cluster_state:fail happens; resolves once every node reports cluster_state:ok again.
   */
  async restart(index: number): Promise<void> {
    await kill(this.procs[index]);
    this.spawnNode(index);
    await waitFor(`redis cluster node ${this.nodes[index].port} to accept connections`, () => ping(this.nodes[index].port));
    for (const node of this.nodes) {
      await waitFor(`cluster_state:ok on node ${node.port}`, () => clusterStateOk(node.port), 60_000, 50);
    }
  }

  /** Seed nodes for a Cluster client. */
  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((n) => ({ host: n.host, port: n.port }));
  }

  /** A new Cluster client; the caller quits it. */
  client(options: ClusterOptions = {}): Cluster {
    return new Cluster(this.startupNodes, options);
  }

  /** A plain connection to one node (e.g. for CLUSTER commands or per-node checks). */
  nodeClient(index: number): Redis {
    const node = this.nodes[index];
    return new Redis(node.port, node.host);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.procs.map(kill));
    this.procs.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function kill(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.ref(); // keep the loop alive until it has exited
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGKILL');
  await exited;
}

async function withNode<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

function ping(port: number): Promise<boolean> {
  return withNode(port, async (c) => (await c.ping()) === 'PONG');
}

function clusterStateOk(port: number): Promise<boolean> {
  return withNode(port, async (c) => String(await c.cluster('INFO')).includes('cluster_state:ok'));
}
