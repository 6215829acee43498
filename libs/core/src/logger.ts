import pino, { Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log object. Secrets come from the
 * environment; this is the second line of defence if one ends up in a logged object.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'apiToken',
  '*.apiToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'config.headers.Authorization',
  'secretAccessKey',
  '*.secretAccessKey',
  'accessKeyId',
  '*.accessKeyId',
  'connectionString',
  '*.connectionString',
];

/** The pino levels LOG_LEVEL accepts (any case). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL read case-insensitively; undefined when it is not a pino level (the caller names the variable). */
export function parseLogLevel(raw: string | undefined): LogLevel | undefined {
  const v = (raw ?? '').trim().toLowerCase();
  if (v === '') return 'info';
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

const MASK = '***';

/**
 * Masks the password of a URL (DATABASE_URL, REDIS_URL) for logs and error messages:
 * `redis://:s3cr@t/x@host:6379/0` → `redis://:***@host:6379/0`. Parsed with the WHATWG URL
 * parser, as pg and ioredis parse it, so a password with `@`, `:`, `%` or non-ASCII
 * characters is masked whole. When the text is not a URL, or an `@` is left after the
 * host (a password with an unencoded `/` or `@` that the parser split elsewhere), every
 * character between `//` and the last `@` is masked: too much hidden beats a leak.
 */
export function redactUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed && parsed.host !== '' && !`${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@')) {
    if (parsed.password === '') return parsed.href;
    parsed.password = MASK;
    return parsed.href;
  }
  return maskAuthority(url);
}

/** Everything between `//` and the last `@` becomes `***`: the fallback for text the URL parser cannot split safely. */
function maskAuthority(text: string): string {
  const start = text.indexOf('//');
  const at = text.lastIndexOf('@');
  if (start < 0 || at < start) return text;
  return `${text.slice(0, start + 2)}${MASK}${text.slice(at)}`;
}

let root: Logger | undefined;

/**
 * The process-wide JSON logger. LOG_LEVEL sets the level (default info, any case). An
 * unknown level falls back to info here, so that building a logger never throws; the
 * command's configuration check names the bad variable.
 */
export function rootLogger(): Logger {
  if (!root) {
    root = pino({
      level: parseLogLevel(process.env.LOG_LEVEL) ?? 'info',
      base: { service: 'cdc-invalidator' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous writes to stdout: a line is out before process.exit, and nothing is left to
    // flush at exit. pino's default asynchronous destination flushes at exit in a loop that
    // retries EPIPE forever, so a worker whose stdout pipe was closed never exited on SIGTERM.
    // pino.destination drops output once it sees EPIPE.
    pino.destination({ dest: 1, sync: true }),
    );
  }
  return root;
}

export function childLogger(component: string): Logger {
  return rootLogger().child({ component });
}
