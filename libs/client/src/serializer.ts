import { CacheSerializationError } from './errors';

/** Turns values into the string stored in Redis and back. Must round-trip what the app caches. */
export interface Serializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

/** The default: JSON. Rejects what JSON would silently drop or mangle (undefined, functions, symbols, BigInt, cycles). */
export const jsonSerializer: Serializer = {
  serialize(value: unknown): string {
    const text = JSON.stringify(value);
    if (typeof text !== 'string') throw new TypeError(`JSON cannot represent a value of type ${typeof value}`);
    return text;
  },
  deserialize(text: string): unknown {
    return JSON.parse(text);
  },
};

export function serializeOrThrow(serializer: Serializer, key: string, value: unknown): string {
  try {
    const text = serializer.serialize(value);
    if (typeof text !== 'string') throw new TypeError('the serializer did not return a string');
    return text;
  } catch (err) {
    throw new CacheSerializationError(`cannot serialize the value for ${JSON.stringify(key)}: ${(err as Error)?.message ?? err}`, key, err);
  }
}
