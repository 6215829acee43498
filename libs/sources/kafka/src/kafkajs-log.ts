import { Logger, childLogger } from '@cdc/core';
import { LogEntry, logLevel } from 'kafkajs';

/**
 * Broker answers that only say "the group's coordinator is not ready yet": a fresh broker
 * answers them until `__consumer_offsets` exists, a restarted one while it loads the group,
 * and kafkajs retries them itself. Its connection logs each at error level, so every first
 * start against a new broker printed an error line for a normal wait. The texts are those of
 * kafkajs's protocol error table (kafkajs/src/protocol/error.js, codes 14, 15 and 16; the
 * adapter's spec checks them against it); the log entry carries only the text.
 */
export const RETRIED_COORDINATOR_ERRORS: ReadonlySet<string> = new Set([
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
]);

export type KafkajsLogLevel = 'error' | 'warn' | 'debug';

/**
 * Our level for one kafkajs log entry: errors and warnings stay (a coordinator that is not
 * ready yet is a warning: kafkajs retries, and if it never becomes ready the consumer's
 * crash is logged at error); its info chatter (pause/resume, joins) goes to debug.
 */
export function kafkajsLogLevel(level: logLevel, entry: LogEntry['log']): KafkajsLogLevel {
  if (level === logLevel.ERROR) {
    const error = (entry as { error?: unknown }).error;
    return typeof error === 'string' && RETRIED_COORDINATOR_ERRORS.has(error) ? 'warn' : 'error';
  }
  return level === logLevel.WARN ? 'warn' : 'debug';
}

/** kafkajs's `logCreator`: its entries as lines of our JSON logger. */
export function kafkajsLogCreator(log: Logger = childLogger('kafkajs')): () => (entry: LogEntry) => void {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry;
      log[kafkajsLogLevel(level, entry)]({ kafkajs: entry.logger, ...rest }, message);
    };
}
