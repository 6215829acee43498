/**
 * What the client stores in a Redis value: one line of metadata (JSON), a newline, then
 * the serialized value. The metadata carries what another process needs to put the entry
 * in its L1 correctly: its tags (so a tag message can evict it), its absolute expiry, and
 * whether it is a negative ("not found") entry.
 */
export interface EntryMeta {
  /** Absolute expiry, ms since the epoch. */
  readonly e: number;
  /** Tags the entry carries. */
  readonly t?: readonly string[];
  /** 1 = negative entry (the loader found nothing); no payload. */
  readonly n?: 1;
}

export interface DecodedEntry {
  readonly meta: EntryMeta;
  readonly payload: string;
}

export function encodeEntry(meta: EntryMeta, payload: string): string {
  return `${JSON.stringify(meta)}\n${payload}`;
}

/** What encodeEntry writes first: `{"e":` then the expiry's digits. */
const HEAD = '{"e":';
const NEGATIVE_TAIL = ',"n":1}';

/**
 * Returns undefined when the text is not in the client's format (written by something else).
 * The metadata of an untagged entry (`{"e":<ms>}`, `{"e":<ms>,"n":1}`) is read by hand: a
 * JSON.parse of it cost as much as a third of an L2 hit. Anything else (tags) goes through JSON.parse.
 * The payload is a slice of the text (no copy), parsed once by the serializer.
 */
export function decodeEntry(text: string): DecodedEntry | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0 || text.charCodeAt(0) !== 123 /* { */) return undefined;
  if (text.startsWith(HEAD)) {
    let i = HEAD.length;
    let e = 0;
    for (let c = text.charCodeAt(i); c >= 48 && c <= 57 && i < nl; c = text.charCodeAt(++i)) e = e * 10 + (c - 48);
    // At most 15 digits: exact in a double (an epoch in ms has 13).
    const digits = i - HEAD.length;
    if (digits > 0 && digits <= 15) {
      if (i === nl - 1 && text.charCodeAt(i) === 125 /* } */) return { meta: { e }, payload: text.slice(nl + 1) };
      if (i + NEGATIVE_TAIL.length === nl && text.startsWith(NEGATIVE_TAIL, i)) return { meta: { e, n: 1 }, payload: text.slice(nl + 1) };
    }
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text.slice(0, nl));
  } catch {
    return undefined;
  }
  if (typeof meta !== 'object' || meta === null || typeof (meta as EntryMeta).e !== 'number') return undefined;
  return { meta: meta as EntryMeta, payload: text.slice(nl + 1) };
}
