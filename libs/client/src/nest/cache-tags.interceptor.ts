import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';

export const CACHE_TAGS_METADATA = '@cdc/cache-client:tags';

/** A tag, or a function of the request giving tags (e.g. `(req) => \`product-${req.params.id}\``). */
export type CacheTagSpec = string | ((request: any) => string | readonly string[]);

/** Declares the tags of a route's response: the same names the rules' CDN purges use. */
export const CacheTags = (...tags: CacheTagSpec[]): MethodDecorator & ClassDecorator => SetMetadata(CACHE_TAGS_METADATA, tags);

/** Cloudflare Cache-Tag is comma-separated, Surrogate-Key space-separated: a tag with either cannot be expressed. */
const UNSAFE_TAG = /[\s,]/;

/**
 * Sets `Cache-Tag` (Cloudflare, comma-separated) and `Surrogate-Key` (Fastly and others,
 * space-separated) from the tags the route declares with @CacheTags, so the CDN caches the
 * response under the tags the worker purges. Tags containing a comma or whitespace are dropped.
 */
@Injectable()
export class CacheTagsInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const specs = this.reflector.getAllAndOverride<CacheTagSpec[] | undefined>(CACHE_TAGS_METADATA, [context.getHandler(), context.getClass()]);
    if (specs && specs.length > 0) {
      const http = context.switchToHttp();
      const tags = resolveTags(specs, http.getRequest());
      if (tags.length > 0) {
        const res = http.getResponse();
        const set = (name: string, value: string): void => (typeof res.setHeader === 'function' ? res.setHeader(name, value) : res.header(name, value));
        set('Cache-Tag', tags.join(','));
        set('Surrogate-Key', tags.join(' '));
      }
    }
    return next.handle();
  }
}

export function resolveTags(specs: readonly CacheTagSpec[], request: unknown): string[] {
  const out = new Set<string>();
  for (const spec of specs) {
    const value = typeof spec === 'function' ? spec(request) : spec;
    for (const tag of typeof value === 'string' ? [value] : value) if (tag && !UNSAFE_TAG.test(tag)) out.add(tag);
  }
  return [...out];
}
