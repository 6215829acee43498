/**
 * Errors a caller of the cache client must be able to tell apart. `retriable` says whether
 * trying again can help (Redis unreachable: yes; a value that cannot be serialized: no).
 * The library stands alone (no @cdc/core), so it has its own small base class.
 */
export class CacheError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(message: string, opts: { code: string; retriable: boolean; cause?: unknown }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.code = opts.code;
    this.retriable = opts.retriable;
  }
}

/** A value could not be serialized (nothing was cached), or bytes read from Redis could not be decoded. */
export class CacheSerializationError extends CacheError {
  constructor(
    message: string,
    readonly key: string,
    cause?: unknown,
  ) {
    super(message, { code: 'CACHE_SERIALIZATION', retriable: false, cause });
  }
}

/** The loader did not settle within `timeoutMs`; nothing was cached and the lease was released. */
export class LoaderTimeoutError extends CacheError {
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(`loader for ${JSON.stringify(key)} did not settle within ${timeoutMs} ms`, { code: 'CACHE_LOADER_TIMEOUT', retriable: true });
  }
}

/** A cache key, its lease key or a tag set holds a Redis type the protocol does not expect (someone else wrote it). */
export class CacheWrongTypeError extends CacheError {
  constructor(
    readonly key: string,
    message: string,
    cause?: unknown,
  ) {
    super(`${JSON.stringify(key)} holds the wrong Redis type: ${message}`, { code: 'CACHE_WRONG_TYPE', retriable: false, cause });
  }
}

/** Redis could not be reached in time. Reads degrade to the loader instead; writes and invalidations throw this. */
export class CacheUnavailableError extends CacheError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'CACHE_UNAVAILABLE', retriable: true, cause });
  }
}

/** Options that cannot work (a Redis client with its own keyPrefix, a negative TTL, ...). */
export class CacheConfigError extends CacheError {
  constructor(message: string) {
    super(message, { code: 'CACHE_CONFIG', retriable: false });
  }
}

/** The client was closed. */
export class CacheClosedError extends CacheError {
  constructor() {
    super('the cache client is closed', { code: 'CACHE_CLOSED', retriable: false });
  }
}
