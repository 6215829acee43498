import { ExplicitInvalidation, parseExplicitInvalidation } from '@cdc/core';

/**
 * The content of `pg_logical_emit_message(true, '<prefix>', '{"keys":[..],"tags":[..],"patterns":[..]}')`:
 * UTF-8 JSON, validated by parseExplicitInvalidation (shared with the Kafka source).
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type ExplicitParseResult = { ok: true; explicit: ExplicitInvalidation } | { ok: false; reason: string; text: string };

export function parseExplicitMessage(content: Uint8Array): ExplicitParseResult {
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return { ok: false, reason: 'message content is not valid UTF-8', text: Buffer.from(content).toString('base64') };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `message content is not JSON: ${(err as Error).message}`, text };
  }
  const parsed = parseExplicitInvalidation(json);
  if (!parsed.ok) return { ok: false, reason: `message content is ${parsed.reason}`, text };
  return { ok: true, explicit: parsed.explicit };
}
