import { CdcError } from '@cdc/core';

/**
 * Whether another start attempt can help. Typed errors say so themselves (ConfigError: no);
 * a Postgres error with a SQLSTATE of class 28 (authentication), 3D (no such database) or
 * 42 (undefined object, privilege) will not change by itself; anything else (connection
 * refused, timeouts, a server restarting) is worth retrying.
 */
export function isTransientStartFailure(err: unknown): boolean {
  if (err instanceof CdcError) return err.retriable;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return !/^(28|3D|42)/.test(code);
  return true;
}
