/**
 * Typed errors. `retriable` says whether trying again can help (a Redis outage can,
 * a malformed rules file cannot); the one retry helper in retry.ts reads it.
 */
export class CdcError extends Error {
  readonly retriable: boolean;
  readonly code: string;

  constructor(message: string, opts: { code: string; retriable: boolean; cause?: unknown }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.code = opts.code;
    this.retriable = opts.retriable;
  }
}

/** A sink or source could not reach its server; retrying later can succeed. */
export class TransientError extends CdcError {
  constructor(message: string, cause?: unknown, code = 'TRANSIENT') {
    super(message, { code, retriable: true, cause });
  }
}

/** Something is misconfigured; the process should stop and say what. */
export class ConfigError extends CdcError {
  constructor(message: string, code = 'CONFIG') {
    super(message, { code, retriable: false });
  }
}

/** Where in a file something is, 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface LocatedProblem extends SourceLocation {
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export function formatProblem(p: LocatedProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.severity}: ${p.message}`;
}

/** A rules file (or other located input) is invalid; carries every problem found, with positions. */
export class RulesError extends ConfigError {
  readonly problems: readonly LocatedProblem[];

  constructor(problems: readonly LocatedProblem[]) {
    super(problems.map(formatProblem).join('\n'), 'RULES_INVALID');
    this.problems = problems;
  }
}

/** A single event could not be processed; it goes to the dead-letter place and the stream goes on. */
export class BadEventError extends CdcError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'BAD_EVENT', retriable: false, cause });
  }
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof CdcError) return err.retriable;
  // Network-level failures from client libraries are retriable unless proven otherwise.
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|ECONNABORTED|EHOSTUNREACH)$/.test(code);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
