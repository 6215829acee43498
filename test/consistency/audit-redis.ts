import Redis, { Cluster } from 'ioredis';
import { RedisCluster, RedisServer } from '@cdc/testing';

/**
 * The Redis the consistency audit runs against: one standalone server, or a 3-master
 * Cluster. Everything the driver does to Redis (read L2, set the marker, the faults) and
 * what the worker and the readers are told goes through here, so both variants run the
 * same audit.
 */
export type RedisTarget = { readonly url: string } | { readonly clusterNodes: ReadonlyArray<{ host: string; port: number }> };

export interface AuditRedis {
  readonly kind: 'standalone' | 'cluster';
  /** The driver's own client; rides out a restart (commands wait instead of failing). */
  readonly client: Redis | Cluster;
  /** What a reader process connects to. */
  readonly target: RedisTarget;
  /** The worker's Redis settings (REDIS_URL, or REDIS_CLUSTER_NODES). */
  workerEnv(): Record<string, string>;
  /** CLIENT KILL TYPE pubsub on every node; the number of connections killed. */
  killPubSub(): Promise<number>;
  /** kill -9 and restart (empty) of the server, or of one master; says which. */
  restart(): Promise<string>;
  destroy(): Promise<void>;
}

/** A client for a target, as the readers and the driver open one. */
export function connect(target: RedisTarget, options: { maxRetriesPerRequest: number | null }): Redis | Cluster {
  if ('url' in target) return new Redis(target.url, options);
  // Cluster: a command waits for the slot refresh after a node restart instead of failing at once.
  return new Cluster([...target.clusterNodes], { redisOptions: options, retryDelayOnClusterDown: 50, retryDelayOnTryAgain: 50 });
}

/** `persistent` (Cluster only, default true): see startCluster. */
export async function startAuditRedis(kind: 'standalone' | 'cluster', options: { persistent?: boolean } = {}): Promise<AuditRedis> {
  return kind === 'cluster' ? startCluster(options.persistent ?? true) : startStandalone();
}

async function startStandalone(): Promise<AuditRedis> {
  const server = await RedisServer.start();
  const target = { url: server.url };
  const client = connect(target, { maxRetriesPerRequest: null }) as Redis;
  client.on('error', () => undefined);
  return {
    kind: 'standalone',
    client,
    target,
    workerEnv: () => ({ REDIS_URL: server.url }),
    killPubSub: async () => Number(await client.client('KILL', 'TYPE', 'pubsub')),
    async restart() {
      await server.restart();
      return 'Redis restarted (kill -9, empty)';
    },
    async destroy() {
      client.disconnect();
      await server.destroy();
    },
  };
}

async function startCluster(persistent: boolean): Promise<AuditRedis> {
  // Persistent (AOF, fsync always), as a Cluster used with tag sets must be: a tag set lives in
  // its own slot, usually on another master than the keys it names, so a master that restarted
  // empty would have lost the tag sets while their members live on elsewhere, never to be
  // invalidated by those tags (audit-report --cluster-no-persistence shows exactly that). The
  // standalone server restarts empty instead: it loses the values together with their tag sets.
  const cluster = await RedisCluster.start(3, { persistent });
  const target = { clusterNodes: cluster.startupNodes };
  const client = connect(target, { maxRetriesPerRequest: null }) as Cluster;
  client.on('error', () => undefined);
  // The worker publishes every L1 message through the master with the lowest address (L1PubSubSink):
  // restarting that one cuts both the worker's publishing and every subscriber connected to it.
  const address = (n: { host: string; port: number }) => `${n.host}:${n.port}`;
  const publisherIndex = cluster.nodes.reduce((best, n, i) => (address(n) < address(cluster.nodes[best]) ? i : best), 0);
  return {
    kind: 'cluster',
    client,
    target,
    workerEnv: () => ({ REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodes.map(address).join(',') }),
    async killPubSub() {
      // A Cluster subscriber holds its connection on any one node: kill on all of them.
      let killed = 0;
      for (let i = 0; i < cluster.nodes.length; i++) {
        const node = cluster.nodeClient(i);
        node.on('error', () => undefined);
        try {
          killed += Number(await node.client('KILL', 'TYPE', 'pubsub'));
        } finally {
          node.disconnect();
        }
      }
      return killed;
    },
    async restart() {
      await cluster.restart(publisherIndex);
      const data = persistent ? 'AOF' : 'no persistence: empty';
      return `Cluster master ${address(cluster.nodes[publisherIndex])} restarted (kill -9, ${data}; the worker's publishing node)`;
    },
    async destroy() {
      client.disconnect();
      await cluster.destroy();
    },
  };
}
