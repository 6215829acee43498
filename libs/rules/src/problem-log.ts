import { LocatedProblem, SourceLocation } from '@cdc/core';

/** Collects every problem found while loading, so the author sees all of them at once. */
export class ProblemLog {
  private readonly list: LocatedProblem[] = [];
  private readonly seen = new Set<string>();

  error(at: SourceLocation, message: string): void {
    this.add({ ...at, message, severity: 'error' });
  }

  warning(at: SourceLocation, message: string): void {
    this.add({ ...at, message, severity: 'warning' });
  }

  add(problem: LocatedProblem): void {
    const id = `${problem.line}:${problem.column}:${problem.severity}:${problem.message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.list.push(problem);
  }

  get errorCount(): number {
    return this.list.reduce((n, p) => (p.severity === 'error' ? n + 1 : n), 0);
  }

  /** In file order. */
  sorted(severity?: LocatedProblem['severity']): LocatedProblem[] {
    return this.list
      .filter((p) => severity === undefined || p.severity === severity)
      .sort((a, b) => a.line - b.line || a.column - b.column);
  }
}
