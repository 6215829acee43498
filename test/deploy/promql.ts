/**
 * Just enough PromQL reading to check expressions against the code: which `cdc_` metrics an
 * expression selects, with which label matchers, and which labels it groups by. Not a parser:
 * expressions here are simple selectors inside functions and aggregations.
 */
export interface MetricSelector {
  /** As written, e.g. cdc_commit_to_applied_seconds_bucket. */
  readonly name: string;
  /** Label names in the `{...}` matchers. */
  readonly matchers: readonly string[];
}

export function cdcSelectors(expr: string): MetricSelector[] {
  const out: MetricSelector[] = [];
  for (const m of stripStrings(expr).matchAll(/\b(cdc_[a-z0-9_]+)\s*(\{([^}]*)\})?/g)) {
    const matchers = (m[3] ?? '')
      .split(',')
      .map((s) => /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/.exec(s)?.[1])
      .filter((s): s is string => Boolean(s));
    out.push({ name: m[1], matchers });
  }
  return out;
}

/** Labels named in `by (...)` / `without (...)` clauses. */
export function groupingLabels(expr: string): string[] {
  const out: string[] = [];
  for (const m of stripStrings(expr).matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    out.push(...m[1].split(',').map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

/** Problems with bracket balance, the commonest way a hand-edited expression breaks. */
export function bracketProblems(expr: string): string[] {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const ch of stripStrings(expr)) {
    if ('([{'.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return [`unbalanced "${ch}" in: ${expr.trim()}`];
  }
  return stack.length ? [`unclosed "${stack.join('')}" in: ${expr.trim()}`] : [];
}

/**
 * The metric a sample name belongs to: histogram series carry _bucket/_sum/_count suffixes
 * that the code does not declare.
 */
export function declaredName(sample: string, histograms: ReadonlySet<string>): string {
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  return m && histograms.has(m[1]) ? m[1] : sample;
}

/** Quoted label values replaced by empty strings, so braces inside them cannot confuse the scan. */
function stripStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/'(?:[^'\\]|\\.)*'/g, "''");
}
