import Redis from 'ioredis';

/** The keys of `keys` that still exist (tests seed a sentinel for every key a change may map to). */
export async function survivingKeys(redis: Redis, keys: readonly string[]): Promise<string[]> {
  const survivors: string[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const res = await redis.pipeline(chunk.map((k) => ['exists', k])).exec();
    res!.forEach(([, n], j) => {
      if (n === 1) survivors.push(chunk[j]);
    });
  }
  return survivors;
}
