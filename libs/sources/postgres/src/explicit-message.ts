import { DEFAULT_EXPLICIT_POLICY, ExplicitInvalidation, ExplicitInvalidationPolicy, countMalformedExplicitInvalidation, parseExplicitInvalidation } from '@cdc/core';

/**
 * The content of `pg_logical_emit_message(true, '<prefix>', '{"keys":[..],"tags":[..],"patterns":[..]}')`:
 * UTF-8 JSON, validated by parseExplicitInvalidation against the configured policy (shared
 * with the Kafka source). A refused message is dead-lettered whole by the caller.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type ExplicitParseResult = { ok: true; explicit: ExplicitInvalidation } | { ok: false; reason: string; text: string };

export function parseExplicitMessage(content: Uint8Array, policy: ExplicitInvalidationPolicy = DEFAULT_EXPLICIT_POLICY): ExplicitParseResult {
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    countMalformedExplicitInvalidation('postgres');
    return { ok: false, reason: 'message content is not valid UTF-8', text: Buffer.from(content).toString('base64') };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    countMalformedExplicitInvalidation('postgres');
    return { ok: false, reason: `message content is not JSON: ${(err as Error).message}`, text };
  }
  const parsed = parseExplicitInvalidation(json, policy, 'postgres');
  if (!parsed.ok) return { ok: false, reason: `message content is ${parsed.reason}`, text };
  return { ok: true, explicit: parsed.explicit };
}
