// Types for the hash-slot function ioredis itself uses (ioredis depends on cluster-key-slot;
// the package ships no typings).
declare module 'cluster-key-slot' {
  /** Redis Cluster hash slot (0..16383) of a key, honouring {hash tags}. */
  function calculateSlot(key: string | Buffer): number;
  namespace calculateSlot {
    /** The common slot of all keys, or -1 when they span several slots. */
    function generateMulti(keys: ReadonlyArray<string | Buffer>): number;
  }
  export = calculateSlot;
}
