import { BadEventError, DeadLetter, InvalidationBatch, RuleMatch } from '@cdc/core';
import { PendingBatch, RuleEvaluator, readDeadLetterPayload, ruleFailureLetter } from '@cdc/pipeline';
import { CompiledRules, parseEventJson } from '@cdc/rules';
import { StoredDeadLetter, serializePayload } from '@cdc/sink-redis';

/**
 * What `dead-letters redrive` does with one stored dead letter, decided without I/O:
 * an `event` letter is run through the current rules again (only the rule that failed, when
 * the rules still have it; all of them otherwise), an `actions` letter is applied as it is.
 */
export type RedrivePlan =
  | {
      readonly kind: 'apply';
      readonly batch: InvalidationBatch;
      /** Rules that fail again on the event: the entry is kept. */
      readonly letters: readonly DeadLetter[];
      /** One line: what would be applied. */
      readonly summary: string;
    }
  | { readonly kind: 'skip'; readonly reason: string };

export function planRedrive(letter: StoredDeadLetter, rules: CompiledRules, nowMs = Date.now()): RedrivePlan {
  if (letter.truncated) return { kind: 'skip', reason: "the payload was cut at the stream's size limit; it cannot be re-applied" };
  const payload = readDeadLetterPayload(letter.payload);
  if (!payload) return { kind: 'skip', reason: 'the payload is neither an event nor actions (e.g. a message the source could not decode); inspect it, then XDEL it by hand' };
  if (payload.kind === 'actions') {
    const batch = new InvalidationBatch();
    batch.addEvent({ op: 'message', schema: '', table: '', position: `redrive:${letter.id}`, commitTimeMs: nowMs });
    const l2 = payload.keys.length + payload.tags.length + payload.patterns.length;
    const channels = payload.channels.length > 0 ? payload.channels : l2 > 0 ? rules.defaultChannels : [];
    batch.addMatch({ rule: 'redrive', keys: payload.keys, tags: payload.tags, patterns: payload.patterns, channels: l2 > 0 ? channels : [], cdn: payload.cdn, missing: [] });
    return { kind: 'apply', batch, letters: [], summary: summarize(batch) };
  }
  if (payload.cut) return { kind: 'skip', reason: 'a value of the event was nested too deep and cut when it was dead-lettered; it cannot be re-run as it was' };
  let event;
  try {
    event = parseEventJson(payload.event);
  } catch (err) {
    if (err instanceof BadEventError) return { kind: 'skip', reason: `the event cannot be read back: ${err.message}` };
    throw err;
  }
  const only = payload.rule !== undefined && rules.rules.some((r) => r.name === payload.rule) ? payload.rule : undefined;
  const evaluator: RuleEvaluator = {
    evaluate: (e, onRuleError) =>
      rules.evaluate(e, (rule, err) => (only === undefined || rule === only ? onRuleError?.(rule, err) : undefined)).filter((m: RuleMatch) => only === undefined || m.rule === only),
  };
  const pending = new PendingBatch();
  pending.fold({ events: [event], ack: () => undefined }, evaluator, { onEvent: () => undefined, onMatch: () => undefined, onMissing: () => undefined, onRuleFailure: () => undefined });
  const letters = pending.failures.map((f) => ruleFailureLetter('redrive', f.event, f.rule, f.error));
  const through = only !== undefined ? `rule ${only}` : payload.rule !== undefined ? `all rules (rule ${payload.rule} is gone)` : 'all rules';
  return { kind: 'apply', batch: pending.invalidation, letters, summary: `${event.op} ${event.schema}.${event.table} through ${through}: ${summarize(pending.invalidation)}` };
}

function summarize(b: InvalidationBatch): string {
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  return [n(b.keys.size, 'key'), n(b.tags.size, 'tag'), n(b.patterns.size, 'pattern'), n(b.channels.size, 'L1 channel'), n(b.cdnCount, 'CDN purge')].join(', ');
}

/** One line describing a stored payload, for `dead-letters list`. */
export function describePayload(letter: StoredDeadLetter): string {
  if (letter.truncated) return `(cut at the size limit) ${letter.payload === null ? '' : String(letter.payload).slice(0, 100)}`;
  const p = readDeadLetterPayload(letter.payload);
  if (!p) return `other: ${clip(serializePayload(letter.payload), 120)}`;
  if (p.kind === 'actions') {
    const parts = [
      p.keys.length ? `keys ${sample(p.keys)}` : '',
      p.tags.length ? `tags ${sample(p.tags)}` : '',
      p.patterns.length ? `patterns ${sample(p.patterns)}` : '',
      p.channels.length ? `channels ${sample(p.channels)}` : '',
      p.cdn.length ? `${p.cdn.length} CDN purge(s)` : '',
    ].filter(Boolean);
    return `actions rejected by ${p.sink || '?'}: ${parts.join('; ') || 'none'}`;
  }
  const e = p.event;
  const table = e.op === 'message' ? '(message)' : `${e.schema}.${e.table}`;
  const key = (e.keyColumns ?? []).map((c) => `${c}=${clip(serializePayload((e.after ?? e.before)?.[c]), 40)}`).join(' ');
  return `event ${e.op} ${table}${key ? ` ${key}` : ''}${p.rule !== undefined ? ` (rule ${p.rule})` : ''}${p.cut ? ' (a value was cut)' : ''}`;
}

function sample(values: readonly string[]): string {
  return `${values.slice(0, 3).join(' ')}${values.length > 3 ? ` (+${values.length - 3})` : ''}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
