import { ParsedTemplate } from './template';

/**
 * Load-time checks that keep CDN purges inside what the author wrote (promise 7): the
 * scheme and host come from the rules file, never from a row. Each returns the problem
 * text, or undefined when the template is acceptable. Values are URL-segment encoded at
 * render time (escaping.ts), so only the static shape needs checking here.
 */

/** Static text before the first placeholder. */
function staticPrefix(t: ParsedTemplate): string {
  let prefix = '';
  for (const part of t.parts) {
    if (typeof part !== 'string') break;
    prefix += part;
  }
  return prefix;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export function checkCloudflareFileUrl(t: ParsedTemplate): string | undefined {
  const prefix = staticPrefix(t);
  if (!/^https?:\/\//i.test(prefix)) {
    return `Cloudflare file URL '${t.source}' must start with a static http:// or https:// scheme`;
  }
  if (t.placeholders.length === 0) {
    try {
      new URL(prefix);
      return undefined;
    } catch {
      return `Cloudflare file URL '${t.source}' is not a valid URL`;
    }
  }
  if (!/^https?:\/\/[^/?#]+[/?#]/i.test(prefix)) {
    return `Cloudflare file URL '${t.source}' interpolates its host; the scheme and host must be static (e.g. https://shop.example.com/p/{after.slug})`;
  }
  return undefined;
}

export function checkCloudflarePrefix(t: ParsedTemplate): string | undefined {
  const prefix = staticPrefix(t);
  if (SCHEME.test(prefix)) return `Cloudflare prefix '${t.source}' must not have a scheme; write host/path (e.g. shop.example.com/p/)`;
  const host = t.placeholders.length === 0 ? /^[^/?#\s]+/ : /^[^/?#\s]+\//;
  if (!host.test(prefix)) {
    return `Cloudflare prefix '${t.source}' must start with a static host and '/' before any placeholder (e.g. shop.example.com/p/{after.slug})`;
  }
  return undefined;
}

export function checkCloudflareHost(t: ParsedTemplate): string | undefined {
  if (t.placeholders.length > 0) return `Cloudflare host '${t.source}' must be static: a row value cannot choose which host is purged`;
  if (SCHEME.test(t.source) || /[/?#\s]/.test(t.source)) return `Cloudflare host '${t.source}' must be a bare host name (e.g. shop.example.com)`;
  return undefined;
}

export function checkCloudFrontPath(t: ParsedTemplate): string | undefined {
  const first = t.parts[0];
  if (typeof first !== 'string' || !first.startsWith('/')) return `CloudFront path '${t.source}' must start with '/'`;
  for (let i = 0; i < t.parts.length; i++) {
    const part = t.parts[i];
    if (typeof part !== 'string') continue;
    const star = part.indexOf('*');
    const isLastChar = i === t.parts.length - 1 && star === part.length - 1;
    if (star >= 0 && !isLastChar) return `CloudFront path '${t.source}': '*' is allowed only as the last character`;
  }
  return undefined;
}

/** Zone and distribution aliases name entries in configuration; ids and credentials never live in the rules file. */
export function checkCdnAlias(kind: 'zone' | 'distribution', alias: string): string | undefined {
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(alias)) return undefined;
  return `${kind} '${alias}' must be an alias defined in configuration (letters, digits, '-', '_', '.'); templates are not allowed here`;
}

export function checkHeaderName(name: string): string | undefined {
  return /^[A-Za-z0-9-]+$/.test(name) ? undefined : `header name '${name}' is not a valid HTTP header name`;
}
