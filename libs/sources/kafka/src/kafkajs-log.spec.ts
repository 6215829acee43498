import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LogEntry, logLevel } from 'kafkajs';
import { captureLogger } from '@cdc/testing';
import { RETRIED_COORDINATOR_ERRORS, kafkajsLogCreator, kafkajsLogLevel } from './kafkajs-log';

/** kafkajs's own protocol error table (internal module: kafkajs 2.2.4 keeps it there). */
const { errorCodes } = require('kafkajs/src/protocol/error') as { errorCodes: Array<{ type: string; code: number; retriable: boolean; message: string }> };

/** The entry kafkajs's Connection logs when a GroupCoordinator (FindCoordinator) answer carries an error code, as a fresh broker gives it. */
function responseError(error: string): LogEntry {
  return {
    namespace: 'Connection',
    level: logLevel.ERROR,
    label: 'ERROR',
    log: { timestamp: '2026-12-01T00:00:00.000Z', logger: 'kafkajs', message: 'Response GroupCoordinator(key: 10, version: 2)', broker: '127.0.0.1:9092', clientId: 'cdc-invalidator', error, correlationId: 2, size: 55 },
  };
}

function captured(): { creator: ReturnType<typeof kafkajsLogCreator>; lines: () => Array<Record<string, unknown>> } {
  const { logger, lines } = captureLogger('debug');
  return { creator: kafkajsLogCreator(logger), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('kafkajs log adapter', () => {
  it('logs a coordinator that is not ready yet (kafkajs retries it) as a warning, not an error', () => {
    const { creator, lines } = captured();
    const log = creator();
    log(responseError('The group coordinator is not available'));
    log(responseError("The coordinator is loading and hence can't process requests for this group"));
    assert.deepEqual(
      lines().map((l) => [l.level, l.msg, l.error, l.kafkajs]),
      [
        ['warn', 'Response GroupCoordinator(key: 10, version: 2)', 'The group coordinator is not available', 'kafkajs'],
        ['warn', 'Response GroupCoordinator(key: 10, version: 2)', "The coordinator is loading and hence can't process requests for this group", 'kafkajs'],
      ],
    );
  });

  it('keeps every other error an error, warnings warnings, and sends info chatter to debug', () => {
    assert.equal(kafkajsLogLevel(logLevel.ERROR, responseError('Not authorized to access group').log), 'error');
    assert.equal(kafkajsLogLevel(logLevel.ERROR, { ...responseError('x').log, error: undefined }), 'error');
    assert.equal(kafkajsLogLevel(logLevel.WARN, responseError('The group coordinator is not available').log), 'warn');
    assert.equal(kafkajsLogLevel(logLevel.INFO, { timestamp: '', logger: 'kafkajs', message: 'Consumer has joined the group' }), 'debug');
    const { creator, lines } = captured();
    creator()({ ...responseError('Not authorized to access group'), namespace: 'Connection' });
    assert.equal(lines()[0].level, 'error');
  });

  it('names exactly the retriable coordinator errors of kafkajs’s protocol table', () => {
    const coordinator = errorCodes.filter((e) => ['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP'].includes(e.type));
    assert.equal(coordinator.length, 3);
    assert.ok(coordinator.every((e) => e.retriable));
    assert.deepEqual([...RETRIED_COORDINATOR_ERRORS].sort(), coordinator.map((e) => e.message).sort());
  });
});
