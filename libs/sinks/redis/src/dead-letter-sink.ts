import { DeadLetter, DeadLetterSink, isUnknown } from '@cdc/core';
import { RedisClient } from './redis-client';
import { RedisCommandRunner } from './redis-command-runner';
import { positiveInt } from './redis-config';
import { toRedisSinkError } from './redis-errors';
import { redisMetrics } from './redis-metrics';
import { SlotCommand } from './slot-grouping';

export const DEFAULT_DEAD_LETTER_STREAM = 'cdc:dead-letter';

export interface RedisDeadLetterSinkOptions {
  /** Not closed by the sink. */
  readonly client: RedisClient;
  /** Stream key. Default 'cdc:dead-letter'. */
  readonly stream?: string;
  /** Approximate cap on entries (XADD MAXLEN ~). Default 100000. */
  readonly maxLen?: number;
  /** Longer JSON payloads are cut to this many characters and flagged `truncated`. Default 65536. */
  readonly maxPayloadChars?: number;
}

/** A dead letter as read back from the stream. */
export interface StoredDeadLetter extends DeadLetter {
  /** Stream entry id (`<ms>-<seq>`). */
  readonly id: string;
  /** The payload was cut at maxPayloadChars; `payload` is then the raw (partial) JSON text. */
  readonly truncated: boolean;
}

/**
 * Events that could not be processed go to a capped Redis stream with the reason, so
 * the stream goes on and an operator can inspect them (`listDeadLetters`, or XRANGE).
 * Entry fields: reason, source, position, payload (JSON), at (ISO), truncated (0|1).
 */
export class RedisDeadLetterSink implements DeadLetterSink {
  readonly stream: string;
  private readonly maxLen: number;
  private readonly maxPayloadChars: number;
  private readonly runner: RedisCommandRunner;

  constructor(options: RedisDeadLetterSinkOptions) {
    this.stream = options.stream ?? DEFAULT_DEAD_LETTER_STREAM;
    this.maxLen = positiveInt(options.maxLen, 100_000, 'maxLen');
    this.maxPayloadChars = positiveInt(options.maxPayloadChars, 65_536, 'maxPayloadChars');
    this.runner = new RedisCommandRunner(options.client);
  }

  async publish(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const slot = this.runner.slotOf(this.stream);
    const commands: SlotCommand[] = letters.map((letter) => {
      let payload = serializePayload(letter.payload);
      const truncated = payload.length > this.maxPayloadChars;
      if (truncated) payload = payload.slice(0, this.maxPayloadChars);
      return {
        name: 'xadd',
        args: [
          this.stream, 'MAXLEN', '~', this.maxLen, '*',
          'reason', letter.reason,
          'source', letter.source,
          'position', letter.position,
          'payload', payload,
          'at', letter.at,
          'truncated', truncated ? '1' : '0',
        ],
        slot,
      };
    });
    await this.runner.run(commands, `writing dead letters to ${this.stream}`);
    for (const letter of letters) redisMetrics.deadLetters.inc({ source: letter.source });
  }
}

/** The newest `count` dead letters, newest first. */
export async function listDeadLetters(client: RedisClient, stream = DEFAULT_DEAD_LETTER_STREAM, count = 100): Promise<StoredDeadLetter[]> {
  return (await xrange(client, stream, 'xrevrange', ['+', '-', 'COUNT', count])).map(toStored);
}

/** Up to `count` dead letters oldest first, after the entry id `after` (exclusive) when given (for `dead-letters list|redrive`). */
export async function readDeadLetters(
  client: RedisClient,
  options: { readonly stream?: string; readonly count?: number; readonly after?: string } = {},
): Promise<StoredDeadLetter[]> {
  const stream = options.stream ?? DEFAULT_DEAD_LETTER_STREAM;
  return (await xrange(client, stream, 'xrange', [options.after ? `(${options.after}` : '-', '+', 'COUNT', options.count ?? 100])).map(toStored);
}

/** The dead letters with these entry ids, in the order given; ids not in the stream are left out. */
export async function getDeadLetters(client: RedisClient, ids: readonly string[], stream = DEFAULT_DEAD_LETTER_STREAM): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  for (const id of ids) out.push(...(await xrange(client, stream, 'xrange', [id, id])).map(toStored));
  return out;
}

/** Removes entries (after a redrive applied them); returns how many were there. */
export async function deleteDeadLetters(client: RedisClient, ids: readonly string[], stream = DEFAULT_DEAD_LETTER_STREAM): Promise<number> {
  if (ids.length === 0) return 0;
  try {
    return await client.xdel(stream, ...ids);
  } catch (err) {
    throw toRedisSinkError(err, `deleting dead letters from ${stream}`);
  }
}

async function xrange(client: RedisClient, stream: string, command: 'xrange' | 'xrevrange', args: Array<string | number>): Promise<Array<[string, string[]]>> {
  try {
    return (await client.call(command, stream, ...args)) as Array<[string, string[]]>;
  } catch (err) {
    throw toRedisSinkError(err, `reading dead letters from ${stream}`);
  }
}

function toStored([id, flat]: [string, string[]]): StoredDeadLetter {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
  const truncated = fields.get('truncated') === '1';
  const raw = fields.get('payload') ?? 'null';
  return {
    id,
    reason: fields.get('reason') ?? '',
    source: fields.get('source') ?? '',
    position: fields.get('position') ?? '',
    at: fields.get('at') ?? '',
    payload: truncated ? raw : parseJson(raw),
    truncated,
  };
}

/**
 * JSON that never throws: the UNKNOWN marker (unchanged TOAST) becomes "<unknown>",
 * bigints become strings, and something JSON cannot encode at all (a cycle) its String().
 */
export function serializePayload(payload: unknown): string {
  try {
    const json = JSON.stringify(payload, (_key, value: unknown) => {
      if (isUnknown(value)) return '<unknown>';
      if (typeof value === 'bigint') return value.toString();
      return value;
    });
    return json ?? 'null';
  } catch {
    return JSON.stringify(String(payload));
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
