/**
 * Redis glob semantics (the `stringmatchlen` rules SCAN MATCH, KEYS and PSUBSCRIBE use),
 * implemented once for both sides: the worker escapes row values with `globEscape` so a
 * value matches only itself, and an L1 cache evicts with `compileGlob` exactly the keys
 * Redis would have matched.
 *
 *   *        any sequence, empty included
 *   ?        exactly one character
 *   [abc]    one of; [^abc] none of; [a-z] a range (reversed ranges are normalised, as in Redis)
 *   \x       the character x itself, inside and outside a class
 *
 * Redis matches bytes, and so does this: a non-ASCII key or pattern is compared as its
 * UTF-8 bytes (`?` matches one byte of `é`, as in Redis).
 */

const GLOB_SPECIAL = /[*?[\]\\]/;
const GLOB_SPECIAL_ALL = /[*?[\]\\]/g;

/** `* ? [ ] \` get a backslash so the value matches only itself. */
export function globEscape(value: string): string {
  return GLOB_SPECIAL.test(value) ? value.replace(GLOB_SPECIAL_ALL, '\\$&') : value;
}

/** True when the pattern holds an unescaped glob character (it can match more than one key). */
export function hasGlobSyntax(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/**
 * The literal text before the first unescaped glob character, unescaped. `search:\*x:*`
 * has the prefix `search:*x:`. Used for the pattern floor and for reserved-prefix checks.
 */
export function literalPrefix(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (i + 1 < pattern.length) out += pattern[++i];
      continue; // a trailing backslash matches nothing more, like Redis
    }
    if (c === '*' || c === '?' || c === '[') return out;
    out += c;
  }
  return out;
}

const REGEXP_SPECIAL = /[.*+?^${}()|[\]\\/-]/g;

function reLiteral(c: string): string {
  return c.replace(REGEXP_SPECIAL, '\\$&');
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The string's UTF-8 bytes as one code unit each (ASCII strings are returned as they are). */
function asBytes(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** Compiles a Redis glob into a predicate over whole keys. */
export function compileGlob(glob: string): (key: string) => boolean {
  const pattern = asBytes(glob);
  let re = '^';
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i];
    if (c === '*') {
      while (pattern[i + 1] === '*') i++;
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '\\') {
      if (i + 1 < n) re += reLiteral(pattern[++i]);
      // Redis: a trailing backslash is a literal backslash
      else re += '\\\\';
    } else if (c === '[') {
      i++;
      let negate = false;
      if (pattern[i] === '^') {
        negate = true;
        i++;
      }
      const parts: string[] = [];
      // Redis: the class runs to the next unescaped ']' or to the end of the pattern.
      while (i < n && pattern[i] !== ']') {
        if (pattern[i] === '\\' && i + 1 < n) {
          i++;
          parts.push(reLiteral(pattern[i]));
        } else if (pattern[i + 1] === '-' && i + 2 < n && pattern[i + 2] !== ']') {
          let a = pattern[i];
          let b = pattern[i + 2];
          if (b === '\\' && i + 3 < n) {
            b = pattern[i + 3];
            i++;
          }
          if (a > b) [a, b] = [b, a];
          parts.push(`${reLiteral(a)}-${reLiteral(b)}`);
          i += 2;
        } else {
          parts.push(reLiteral(pattern[i]));
        }
        i++;
      }
      // An empty class matches nothing (negated: any one character).
      re += parts.length === 0 ? (negate ? '[\\s\\S]' : '(?!)') : `[${negate ? '^' : ''}${parts.join('')}]`;
      if (i >= n) break;
    } else {
      re += reLiteral(c);
    }
    i++;
  }
  const regexp = new RegExp(`${re}$`);
  return (key) => regexp.test(asBytes(key));
}
