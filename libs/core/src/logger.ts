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

/** Replaces `user:password@` in URLs (DATABASE_URL, REDIS_URL) with `user:***@`. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/g, '$1***@');
}

let root: Logger | undefined;

/** The process-wide JSON logger. LOG_LEVEL sets the level (default info). */
export function rootLogger(): Logger {
  if (!root) {
    root = pino({
      level: process.env.LOG_LEVEL ?? 'info',
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
