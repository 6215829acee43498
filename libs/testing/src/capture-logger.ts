import { Writable } from 'node:stream';
import pino, { Logger } from 'pino';

/**
 * A pino logger writing JSON lines to memory, with level labels as the worker's root logger
 * writes them (`"level":"warn"`). No redaction is configured: the code itself must not log
 * secrets, and a test that scans these lines sees what it would print.
 */
export function captureLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level, formatters: { level: (label) => ({ level: label }) } }, stream), lines };
}
