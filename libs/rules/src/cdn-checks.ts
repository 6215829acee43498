import { isIPv6 } from 'node:net';
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

/**
 * The template with each placeholder standing for one character: placeholders never
 * render empty where the floor applies (render.ts refuseEmpty), so this is the narrowest
 * text the template can produce, for the floor checks below.
 */
function narrowestShape(t: ParsedTemplate): string {
  return t.parts.map((p) => (typeof p === 'string' ? p : 'x')).join('');
}

/** True when `path` (after the host) keeps at least one non-empty segment. */
function hasPathSegment(path: string): boolean {
  return path.split('/').some((segment) => segment !== '');
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * A static host name (DNS labels of letters, digits, '-', '_'; or an IPv4 / bracketed
 * IPv6 address), optionally with `:port` (1-65535) when `allowPort`. Returns what is
 * wrong, or undefined.
 */
export function checkStaticHost(authority: string, allowPort: boolean): string | undefined {
  if (authority.includes('@')) return `'${authority}' must not carry credentials (user@host)`;
  let host = authority;
  let port: string | undefined;
  const v6 = /^(\[[^\]]*\])(?::(.*))?$/.exec(authority);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else if (authority.includes(':')) {
    const at = authority.lastIndexOf(':');
    host = authority.slice(0, at);
    port = authority.slice(at + 1);
  }
  if (port !== undefined) {
    if (!allowPort) return `'${authority}' must be a host name without a port`;
    const n = Number(port);
    if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) return `port '${port}' in '${authority}' must be a number from 1 to 65535`;
  }
  if (v6) return isIPv6(host.slice(1, -1)) ? undefined : `'${host}' is not a valid IPv6 address`;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (IPV4.test(name)) return undefined;
  if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) {
    return `'${host}' is not a valid host name (dot-separated labels of letters, digits, '-' and '_', each 1-63 long)`;
  }
  return undefined;
}

export function checkCloudflareFileUrl(t: ParsedTemplate): string | undefined {
  const prefix = staticPrefix(t);
  if (!/^https?:\/\//i.test(prefix)) {
    return `Cloudflare file URL '${t.source}' must start with a static http:// or https:// scheme`;
  }
  if (t.placeholders.length === 0) {
    try {
      new URL(prefix);
      const host = checkStaticHost(/^https?:\/\/([^/?#]*)/i.exec(prefix)![1], true);
      return host ? `Cloudflare file URL '${t.source}': ${host}` : undefined;
    } catch {
      return `Cloudflare file URL '${t.source}' is not a valid URL`;
    }
  }
  if (!/^https?:\/\/[^/?#]+[/?#]/i.test(prefix)) {
    return `Cloudflare file URL '${t.source}' interpolates its host; the scheme and host must be static (e.g. https://shop.example.com/p/{after.slug})`;
  }
  const host = checkStaticHost(/^https?:\/\/([^/?#]+)/i.exec(prefix)![1], true);
  return host ? `Cloudflare file URL '${t.source}': ${host}` : undefined;
}

export function checkCloudflarePrefix(t: ParsedTemplate): string | undefined {
  const prefix = staticPrefix(t);
  if (SCHEME.test(prefix)) return `Cloudflare prefix '${t.source}' must not have a scheme; write host/path (e.g. shop.example.com/p/)`;
  const shape = t.placeholders.length === 0 ? /^[^/?#\s]+/ : /^[^/?#\s]+\//;
  if (!shape.test(prefix)) {
    return `Cloudflare prefix '${t.source}' must start with a static host and '/' before any placeholder (e.g. shop.example.com/p/{after.slug})`;
  }
  const host = checkStaticHost(/^[^/?#\s]+/.exec(prefix)![0], false);
  if (host) return `Cloudflare prefix '${t.source}': ${host}`;
  const narrowest = narrowestShape(t);
  const slash = narrowest.indexOf('/');
  if (slash < 0 || !hasPathSegment(narrowest.slice(slash + 1))) {
    return `Cloudflare prefix '${t.source}' must keep at least one non-empty path segment after the host (e.g. shop.example.com/p/): a bare host purges the whole site; use 'hosts' if that is meant`;
  }
  return undefined;
}

export function checkCloudflareHost(t: ParsedTemplate): string | undefined {
  if (t.placeholders.length > 0) return `Cloudflare host '${t.source}' must be static: a row value cannot choose which host is purged`;
  if (SCHEME.test(t.source) || /[/?#\s]/.test(t.source)) return `Cloudflare host '${t.source}' must be a bare host name (e.g. shop.example.com)`;
  const host = checkStaticHost(t.source, false);
  return host ? `Cloudflare host '${t.source}': ${host}` : undefined;
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
  if (isCloudFrontWildcard(t) && !hasPathSegment(narrowestShape(t).slice(0, -1))) {
    return `CloudFront wildcard path '${t.source}' must keep at least one non-empty path segment before '*' (e.g. /p/*): '/*' invalidates the whole distribution`;
  }
  return undefined;
}

/** A path ending in `*` (CloudFront's wildcard, static text only: values are encoded). */
export function isCloudFrontWildcard(t: ParsedTemplate): boolean {
  const last = t.parts[t.parts.length - 1];
  return typeof last === 'string' && last.endsWith('*');
}

/** Zone and distribution aliases name entries in configuration; ids and credentials never live in the rules file. */
export function checkCdnAlias(kind: 'zone' | 'distribution', alias: string): string | undefined {
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(alias)) return undefined;
  return `${kind} '${alias}' must be an alias defined in configuration (letters, digits, '-', '_', '.'); templates are not allowed here`;
}

export function checkHeaderName(name: string): string | undefined {
  return /^[A-Za-z0-9-]+$/.test(name) ? undefined : `header name '${name}' is not a valid HTTP header name`;
}
