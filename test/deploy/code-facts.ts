import { readFileSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { SourceFile, applicationSources, repoPath } from '../support/repo-files';

/**
 * Facts read from the application's code, which the deployment files must agree with:
 * the environment variables it reads, the metrics it declares, its CLI commands and HTTP
 * routes. Found by reading the sources, so a rename in the code fails these tests.
 */
export class CodeFacts {
  private readonly sources: SourceFile[];

  constructor(sources: SourceFile[] = applicationSources()) {
    this.sources = sources;
  }

  /** Files that read the variable: `env.NAME`, `env['NAME']`, a quoted 'NAME', or a schema key `NAME:`. */
  filesReadingEnv(name: string): string[] {
    const n = escapeRegExp(name);
    const re = new RegExp(`(?:\\benv\\.${n}\\b|\\benv\\[\\s*['"\`]${n}['"\`]\\s*\\]|['"\`]${n}['"\`]|^\\s*${n}\\s*:)`, 'm');
    return this.sources.filter((f) => re.test(f.text)).map((f) => f.path);
  }

  /** Metric names declared with the core helpers counter/gauge/histogram, with their label names. */
  declaredMetrics(): Map<string, MetricDeclaration> {
    const out = new Map<string, MetricDeclaration>();
    const str = `'(?:[^'\\\\]|\\\\.)*'|"(?:[^"\\\\]|\\\\.)*"|\`(?:[^\`\\\\]|\\\\.)*\``;
    const call = new RegExp(`\\b(counter|gauge|histogram)(?:<[^>]*>)?\\(\\s*'(cdc_[a-z0-9_]+)'\\s*,\\s*(?:${str})\\s*(?:,\\s*\\[([^\\]]*)\\])?`, 'g');
    for (const f of this.sources) {
      for (const m of f.text.matchAll(call)) {
        const labels = (m[3] ?? '').split(',').map((l) => l.trim().replace(/^['"]|['"]$/g, '')).filter(Boolean);
        const prev = out.get(m[2]);
        out.set(m[2], {
          name: m[2],
          type: m[1] as MetricDeclaration['type'],
          labels: new Set([...(prev?.labels ?? []), ...labels]),
          files: [...(prev?.files ?? []), f.path],
        });
      }
    }
    return out;
  }

  /** Whether any application file mentions the metric name as a quoted string. */
  mentionsMetric(name: string): boolean {
    const re = new RegExp(`['"\`]${escapeRegExp(name)}['"\`]`);
    return this.sources.some((f) => re.test(f.text));
  }

  /** Subcommands registered with commander: `.command('name')`. */
  cliCommands(): Set<string> {
    const out = new Set<string>();
    for (const f of this.sources.filter((s) => s.path.startsWith('apps/'))) {
      for (const m of f.text.matchAll(/\.command\(\s*['"`]([a-z][a-z0-9-]*)/g)) out.add(m[1]);
    }
    return out;
  }

  /** Nest GET routes of the worker app: `@Get('path')`, returned as `/path`. */
  httpGetRoutes(): Set<string> {
    const out = new Set<string>();
    for (const f of this.sources.filter((s) => s.path.startsWith('apps/'))) {
      for (const m of f.text.matchAll(/@Get\(\s*['"`]\/?([^'"`]*)['"`]\s*\)/g)) out.add(`/${m[1]}`);
    }
    return out;
  }
}

export interface MetricDeclaration {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: ReadonlySet<string>;
  readonly files: readonly string[];
}

/**
 * prom-client's default process metrics under the prefix the worker registers them with
 * (collectProcessMetrics: collectDefaultMetrics({ prefix: 'cdc_' })). Read from prom-client
 * itself, not from a list kept here.
 */
export function defaultProcessMetrics(prefix: string): Set<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  const names = new Set(registry.getMetricsAsArray().map((m) => m.name));
  registry.clear();
  return names;
}

/** The prefix the core registers default metrics with, read from libs/core/src/metrics.ts. */
export function defaultMetricsPrefix(): string | undefined {
  const text = readFileSync(repoPath('libs', 'core', 'src', 'metrics.ts'), 'utf8');
  return /collectDefaultMetrics\(\s*\{[^}]*prefix:\s*'([^']+)'/.exec(text)?.[1];
}

/**
 * Variables read by a library rather than by our code (the AWS SDK's default credential
 * chain). Each entry names the package file that must contain the variable, so the claim
 * is checked, not assumed.
 */
export const LIBRARY_ENV_READERS: Readonly<Record<string, string>> = {
  AWS_ACCESS_KEY_ID: 'node_modules/@aws-sdk/credential-provider-env/dist-cjs/index.js',
  AWS_SECRET_ACCESS_KEY: 'node_modules/@aws-sdk/credential-provider-env/dist-cjs/index.js',
};

export function libraryReadsEnv(name: string): boolean {
  const file = LIBRARY_ENV_READERS[name];
  if (!file) return false;
  try {
    return readFileSync(repoPath(file), 'utf8').includes(`"${name}"`);
  } catch {
    return false;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
