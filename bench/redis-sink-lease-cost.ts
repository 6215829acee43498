/**
 * What deleting protocol-1 lease keys costs the Redis sink: the same batches (keys and tags)
 * applied with deleteLeases on and off, interleaved, against a throwaway redis-server. Prints keys/s per
 * mode and the ratio. Not a test (no assertion on timings); run it by hand:
 *
 *   npm run build && node dist/bench/redis-sink-lease-cost.js [rounds] [--with-leases]
 *
 * --with-leases also writes a lease for every key before each round (every key mid-fill,
 * the worst case); by default no lease exists (the common case: UNLINK of a missing key).
 */
import { performance } from 'node:perf_hooks';
import { RedisServer } from '@cdc/testing';
import { redisCpuMs } from './bench-util';
import { CpuMeter } from './meters';
import { connectRedis, createRedisClient } from '@cdc/sink-redis/redis-client';
import { redisConfigFromEnv } from '@cdc/sink-redis/redis-config';
import { RedisInvalidationSink } from '@cdc/sink-redis/redis-invalidation-sink';
import { testBatch } from '@cdc/sink-redis/sink-test-batch.test-helper';

const KEYS_PER_BATCH = Number(process.env.BENCH_KEYS ?? 1000);
const TAGS_PER_BATCH = Number(process.env.BENCH_TAGS ?? 10);
const MEMBERS_PER_TAG = 100;
const BATCHES_PER_ROUND = 20;

/** Values for batch ARGV[1]'s keys and tag members, its tag sets, and optionally leases (leaseKeyOf of a brace-free key is `cdc:lease:{key}`). */
const FILL_LUA = `
local b, nk, nt, nm, leases = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local function put(k)
  redis.call('SET', k, 'v')
  if leases then redis.call('SET', 'cdc:lease:{' .. k .. '}', 'token') end
end
for i = 0, nk - 1 do put('bench:' .. b .. ':k:' .. i) end
for t = 0, nt - 1 do
  local tag = 'bench-' .. b .. '-' .. t
  for i = 0, nm - 1 do
    local m = 'bench:' .. tag .. ':m:' .. i
    put(m)
    redis.call('SADD', 'cdc:tag:' .. tag, m)
  end
end
`;

async function main(): Promise<void> {
  const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
  const withLeases = process.argv.includes('--with-leases');
  const server = await RedisServer.start();
  const client = createRedisClient(redisConfigFromEnv({ REDIS_URL: server.url }));
  const probe = server.client();
  try {
    await connectRedis(client);
    const sinks = { on: new RedisInvalidationSink({ client, deleteLeases: true }), off: new RedisInvalidationSink({ client }) };
    const elapsed = { on: 0, off: 0 };
    // Worker CPU and the Redis server's CPU per mode: wall time alone is noisy on a shared machine.
    const cpu = { on: 0, off: 0 };
    const redisCpu = { on: 0, off: 0 };
    for (let round = 0; round < rounds * 2 + 2; round++) {
      const mode = round % 2 === 0 ? 'on' : 'off';
      const batches = Array.from({ length: BATCHES_PER_ROUND }, (_, b) => {
        const keys = Array.from({ length: KEYS_PER_BATCH }, (_, i) => `bench:${b}:k:${i}`);
        const tags = Array.from({ length: TAGS_PER_BATCH }, (_, t) => `bench-${b}-${t}`);
        return { keys, tags, batch: testBatch({ keys, tags }) };
      });
      // Fill outside the timed part, server-side (one script per batch), so the client
      // allocates nothing that a GC would collect during the timed part.
      for (let b = 0; b < BATCHES_PER_ROUND; b++) {
        await probe.eval(FILL_LUA, 0, b, KEYS_PER_BATCH, TAGS_PER_BATCH, MEMBERS_PER_TAG, withLeases ? 1 : 0);
      }
      const redis0 = await redisCpuMs(probe);
      const cpu0 = new CpuMeter();
      const start = performance.now();
      for (const { batch } of batches) await sinks[mode].apply(batch);
      // The first round of each mode warms up (JIT, script load) and is not counted.
      if (round >= 2) {
        elapsed[mode] += performance.now() - start;
        cpu[mode] += cpu0.stopMs();
        redisCpu[mode] += (await redisCpuMs(probe)) - redis0;
      }
    }
    const keys = rounds * BATCHES_PER_ROUND * (KEYS_PER_BATCH + TAGS_PER_BATCH * MEMBERS_PER_TAG);
    const rate = (ms: number): number => Math.round(keys / (ms / 1000));
    console.log(`leases ${withLeases ? 'present' : 'absent'}; ${rounds} rounds x ${BATCHES_PER_ROUND} batches x (${KEYS_PER_BATCH} keys + ${TAGS_PER_BATCH}x${MEMBERS_PER_TAG} tag members)`);
    console.log(`deleteLeases=false  ${rate(elapsed.off)} keys/s`);
    console.log(`deleteLeases=true   ${rate(elapsed.on)} keys/s`);
    console.log(`ratio on/off        ${(elapsed.off / elapsed.on).toFixed(3)}`);
    const ns = (ms: number): string => `${((ms * 1e6) / keys).toFixed(0)} ns/key`;
    console.log(`client CPU off / on ${ns(cpu.off)} / ${ns(cpu.on)}`);
    console.log(`Redis CPU off / on  ${ns(redisCpu.off)} / ${ns(redisCpu.on)}`);
  } finally {
    client.disconnect();
    probe.disconnect();
    await server.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
