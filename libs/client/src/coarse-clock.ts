/**
 * Date.now() costs about twice an lru-cache lookup, so the L1 hit path reads a clock cached
 * for at most 1 ms (lru-cache's ttlResolution idea). A timer clears it; because a chain of
 * already-resolved awaits never lets timers run, it is also re-read every 1024 calls.
 */
let cached = 0;
let calls = 0;

function clear(): void {
  cached = 0;
}

export function coarseNow(): number {
  if (cached === 0 || (++calls & 1023) === 0) {
    if (cached === 0) setTimeout(clear, 1).unref();
    cached = Date.now();
  }
  return cached;
}
