import Redis from 'ioredis';

/** Samples this process's RSS every 50 ms and keeps the peak. */
export class PeakRss {
  private peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }, 50);

  stop(): number {
    clearInterval(this.timer);
    return Math.max(this.peak, process.memoryUsage.rss());
  }
}

/** Nearest rank over an ascending array; p = 0 is the minimum, 100 the maximum. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

export interface Row {
  scenario: string;
  metric: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
}

/** Prints a Markdown table (pastes straight into the README). */
export function printTable(rows: Row[]): void {
  const head: Row = { scenario: 'scenario', metric: 'metric', value: 'worker', baseline: 'baseline', ratio: 'ratio', target: 'target' };
  const cols = Object.keys(head) as Array<keyof Row>;
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => `| ${cols.map((c) => r[c].padEnd(width[c])).join(' | ')} |`;
  process.stdout.write(line(head) + '\n');
  process.stdout.write(`|${cols.map((c) => '-'.repeat(width[c] + 2)).join('|')}|\n`);
  for (const r of rows) process.stdout.write(line(r) + '\n');
}

export interface StageRow {
  part: string;
  stage: string;
  usPerRow: number;
}

export function printStages(stages: StageRow[]): void {
  const parts = [...new Set(stages.map((s) => s.part))];
  for (const part of parts) {
    const mine = stages.filter((s) => s.part === part);
    process.stdout.write(`  ${part}: ${mine.map((s) => `${s.stage} ${s.usPerRow.toFixed(2)} µs`).join(' · ')}\n`);
  }
}

/** The Redis server's own CPU so far (INFO cpu), ms: on a shared box it competes with the worker. */
export async function redisCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const sec = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (sec('used_cpu_user') + sec('used_cpu_sys')) * 1000;
}
