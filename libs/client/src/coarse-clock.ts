/**
 * Date.now() and performance.now() each cost about twice an lru-cache lookup, so the L1 hit
 * path reads clocks cached for at most 1 ms (lru-cache's ttlResolution idea). A timer clears
 * them; because a chain of already-resolved awaits never lets timers run, they are also
 * re-read every 1024 calls (lru-cache's own ttlResolution has no such bound, hence `coarsePerf`).
 */
let cachedWall = 0;
let cachedMono = 0;
let calls = 0;

function clear(): void {
  cachedWall = 0;
  cachedMono = 0;
}

/** Wall-clock ms (comparable with the absolute expiries other processes wrote to Redis). */
export function coarseNow(): number {
  if (cachedWall === 0 || (++calls & 1023) === 0) {
    if (cachedWall === 0 && cachedMono === 0) setTimeout(clear, 1).unref();
    cachedWall = Date.now();
  }
  return cachedWall;
}

/** Monotonic ms, for lru-cache's TTLs (the hard max TTL must not stretch when the wall clock steps back). */
export function coarseMonotonic(): number {
  if (cachedMono === 0 || (++calls & 1023) === 0) {
    if (cachedWall === 0 && cachedMono === 0) setTimeout(clear, 1).unref();
    cachedMono = performance.now();
  }
  return cachedMono;
}

/** lru-cache's `perf` option. */
export const coarsePerf = { now: coarseMonotonic };
