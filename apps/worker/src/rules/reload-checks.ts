import { LineCounter, isMap, isPair, isScalar, parseDocument, visit } from 'yaml';
import { LocatedProblem, SourceLocation } from '@cdc/core';
import { CompiledRules } from '@cdc/rules';

/**
 * What was fixed when the process started and a reloaded rules file cannot change:
 * the CDN aliases the outbox knows, and the tables the Postgres publication was set up with.
 */
export interface BootFacts {
  /** Tables (names or globs) the publication was set up with; 'all' for FOR ALL TABLES; undefined when the source has no publication (Kafka). */
  readonly publication?: readonly string[] | 'all';
  /** Aliases configured in CLOUDFLARE_ZONES / CLOUDFRONT_DISTRIBUTIONS; undefined when the CDN outbox was not started at boot. */
  readonly cdnAliases?: { readonly cloudflare: ReadonlySet<string>; readonly cloudfront: ReadonlySet<string> };
}

export interface ReloadCheckResult {
  /** Reasons to reject the file: the old rules keep running. */
  readonly errors: LocatedProblem[];
  /** Applied anyway, but an operator has to act (restart, PG_PUBLICATION_TABLES). */
  readonly warnings: LocatedProblem[];
}

/**
 * Checks a compiled rules file against the boot facts. A CDN alias nobody configured would
 * queue purges that can never be sent, so it rejects the file; a table outside the
 * publication only means its changes are not seen yet, so it warns.
 */
export function checkAgainstBoot(rules: CompiledRules, text: string, boot: BootFacts): ReloadCheckResult {
  const errors: LocatedProblem[] = [];
  const warnings: LocatedProblem[] = [];
  const locate = aliasLocator(text, rules.file);

  for (const provider of ['cloudflare', 'cloudfront'] as const) {
    const what = provider === 'cloudflare' ? 'zone' : 'distribution';
    const variable = provider === 'cloudflare' ? 'CLOUDFLARE_ZONES' : 'CLOUDFRONT_DISTRIBUTIONS';
    for (const alias of rules.cdnAliases[provider]) {
      const at = locate(what, alias);
      if (!boot.cdnAliases) {
        errors.push(problem(at, 'error', `${provider} ${what} "${alias}": the CDN outbox was not started at boot (the rules then named no CDN target); restart the worker to enable CDN purges`));
      } else if (!boot.cdnAliases[provider].has(alias)) {
        const known = [...boot.cdnAliases[provider]].join(', ') || 'none';
        errors.push(problem(at, 'error', `${provider} ${what} "${alias}" is not configured in ${variable} (configured: ${known}); aliases are fixed at boot`));
      }
    }
  }

  const publication = boot.publication;
  if (publication !== undefined && publication !== 'all') {
    const covered = publication.map(globMatcher);
    for (const rule of rules.rules) {
      for (const table of rule.tables) {
        if (publication.includes(table) || (!/[*?]/.test(table) && covered.some((m) => m(table)))) continue;
        warnings.push(
          problem(
            rule.location,
            'warning',
            `rule "${rule.name}": table ${table} was not in the publication at boot (${publication.join(', ') || 'none'}); its changes are not seen until a restart (or add it to PG_PUBLICATION_TABLES)`,
          ),
        );
      }
    }
  }
  return { errors, warnings };
}

function problem(at: SourceLocation, severity: LocatedProblem['severity'], message: string): LocatedProblem {
  return { file: at.file, line: at.line, column: at.column, severity, message };
}

/** `public.*` style globs over the whole `schema.table` name; `*` and `?` never cross the dot. */
function globMatcher(glob: string): (table: string) => boolean {
  if (!/[*?]/.test(glob)) return (table) => table === glob;
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*').replace(/\?/g, '[^.]');
  const re = new RegExp(`^${body}$`);
  return (table) => re.test(table);
}

/** Finds where `zone: <alias>` / `distribution: <alias>` is written, so the rejection points at the line to fix. */
function aliasLocator(text: string, file: string): (key: 'zone' | 'distribution', alias: string) => SourceLocation {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const found = new Map<string, SourceLocation>();
  visit(doc, {
    Pair(_, pair) {
      if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value) || isMap(pair.value)) return;
      const key = String(pair.key.value);
      if ((key !== 'zone' && key !== 'distribution') || !pair.value.range) return;
      const id = `${key}\u0000${String(pair.value.value)}`;
      if (found.has(id)) return;
      const { line, col } = lines.linePos(pair.value.range[0]);
      found.set(id, { file, line, column: col });
    },
  });
  return (key, alias) => found.get(`${key}\u0000${alias}`) ?? { file, line: 1, column: 1 };
}
