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

/** Returns undefined when the text is not in the client's format (written by something else). */
export function decodeEntry(text: string): DecodedEntry | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0 || text.charCodeAt(0) !== 123 /* { */) return undefined;
  let meta: unknown;
  try {
    meta = JSON.parse(text.slice(0, nl));
  } catch {
    return undefined;
  }
  if (typeof meta !== 'object' || meta === null || typeof (meta as EntryMeta).e !== 'number') return undefined;
  return { meta: meta as EntryMeta, payload: text.slice(nl + 1) };
}
