import { Command, InvalidArgumentError } from 'commander';
import { formatEta } from '@cdc/backfill';
import { ReplayProgress, ReplaySummary, replayKafka } from '@cdc/source-kafka';
import { loadWorkerSettings } from '../config/worker-settings';
import { kafkaSourcePlugin } from '../sources/kafka.plugin';
import { ActionCounts, ApplyStats, openCliSinks, renderActions } from './apply-sinks';

interface ReplayKafkaFlags {
  from: string;
  to?: string;
  dryRun?: boolean;
  rules?: string;
  batchSize: number;
  progressInterval: number;
  json?: boolean;
}

/**
 * `replay kafka --from <time|earliest|offsets>`: re-reads a range of the Debezium topics under
 * a throwaway consumer group (the live group is not disturbed) and pushes every event through
 * the rules and the same sinks as `run` (Redis L2, L1 pub/sub, CDN outbox), or with --dry-run
 * only reports what it would have invalidated. Kafka, Redis and rules come from the same
 * environment as `run` (KAFKA_*, REDIS_*, RULES_FILE).
 */
export function registerReplay(program: Command): void {
  const replay = program.command('replay').description('Re-read a range of a change stream and invalidate again (or --dry-run to see what would be invalidated)');
  replay
    .command('kafka')
    .description('Replay Debezium records from Kafka under a throwaway consumer group (the live group is not touched)')
    .requiredOption('--from <spec>', 'where to start: an ISO-8601 time, "earliest", or topic:partition:offset[,topic:partition:offset...]')
    .option('--to <time>', 'stop before records at or after this ISO-8601 time (default: the end offsets when the replay starts)')
    .option('--dry-run', 'evaluate the rules and print what would be invalidated; touch nothing')
    .option('--rules <file>', 'rules file (overrides $RULES_FILE)')
    .option('--batch-size <n>', 'events per sink batch', positiveInt, 1000)
    .option('--progress-interval <ms>', 'at most one progress line on stderr per this many ms', positiveInt, 5000)
    .option('--json', 'print the summary as one JSON line')
    .addHelpText(
      'after',
      '\nEnvironment: KAFKA_BROKERS, KAFKA_TOPICS or KAFKA_TOPIC_PATTERN, KAFKA_TOPIC_PREFIX, ... (see docs/kafka.md), REDIS_*, RULES_FILE.\n' +
        'Examples:\n  cdc-invalidator replay kafka --from 2024-05-01T10:00:00Z --dry-run\n  cdc-invalidator replay kafka --from cdc.public.products:0:1200,cdc.public.products:1:980',
    )
    .action(async (flags: ReplayKafkaFlags) => {
      const env = { ...process.env };
      if (flags.rules) env.RULES_FILE = flags.rules;
      // Same validation as `run` with SOURCE=kafka: one error naming every bad variable.
      const settings = loadWorkerSettings(env, { source: kafkaSourcePlugin });
      const dryRun = flags.dryRun ?? false;
      const out = await openCliSinks({ settings, dryRun, sourceName: 'replay' });
      try {
        const kafka = { ...settings.source.config, explicitPolicy: settings.explicitPolicy };
        const progress = new ReplayProgressLines(flags.progressInterval);
        const summary = await replayKafka({
          ...kafka,
          from: flags.from,
          to: flags.to,
          dryRun,
          batchSize: flags.batchSize,
          handleBatch: (events) => out.applier.apply(events),
          onProgress: (p) => progress.update(p),
        });
        progress.finish();
        const stats = out.applier.stats;
        process.stdout.write(flags.json ? JSON.stringify({ command: 'replay kafka', ...summary, applied: stats }) + '\n' : renderReplaySummary(summary, stats));
        if (stats.rejections.length > 0 || stats.ruleErrors > 0) process.exitCode = 1;
      } finally {
        await out.close();
      }
    });
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Periodic plain-text progress on stderr (stdout stays for the summary). */
class ReplayProgressLines {
  private readonly started = Date.now();
  private lastLineAt = 0;
  private last?: ReplayProgress;

  constructor(private readonly intervalMs: number) {}

  update(p: ReplayProgress): void {
    this.last = p;
    const now = Date.now();
    if (now - this.lastLineAt < this.intervalMs) return;
    this.lastLineAt = now;
    this.line(p, now);
  }

  finish(): void {
    if (this.last) this.line(this.last, Date.now());
  }

  private line(p: ReplayProgress, now: number): void {
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? p.records / seconds : 0;
    const percent = p.totalRecords > 0 ? Math.floor((p.records / p.totalRecords) * 100) : 100;
    const eta = rate > 0 ? formatEta((p.totalRecords - p.records) / rate) : '--';
    process.stderr.write(
      `replay: ${p.records}/${p.totalRecords} records (${percent}%), ${p.partitionsDone}/${p.partitions} partitions done, ${Math.round(rate)} records/s, ETA ${eta}\n`,
    );
  }
}

export function renderReplaySummary(s: ReplaySummary, stats: ApplyStats): string {
  const lines = [
    `replay kafka${s.dryRun ? ' (dry run)' : ''}: ${s.records} records, ${s.events} events, ${s.skipped} skipped, ${s.poison} poison in ${(s.durationMs / 1000).toFixed(1)} s (group ${s.groupId})`,
  ];
  const ranges = Object.entries(s.ranges);
  if (ranges.length) lines.push(`  ranges: ${ranges.map(([tp, r]) => `${tp} [${r.start}, ${r.end})`).join('  ')}`);
  if (Object.keys(s.eventsByTable).length) lines.push(`  events by table: ${formatCounts(s.eventsByTable)}`);
  if (Object.keys(s.eventsByOp).length) lines.push(`  events by op: ${formatCounts(s.eventsByOp)}`);
  lines.push(...renderActions(s.actions as ActionCounts, s.dryRun));
  for (const p of s.poisonSamples) lines.push(`  poison ${p.position}: ${p.reason}`);
  if (stats.ruleErrors) lines.push(`  ${stats.ruleErrors} event(s) failed in the rules (see the error log lines)`);
  for (const r of stats.rejections) lines.push(`  REJECTED by ${r.sink} at ${r.position}: ${r.reason}`);
  if (stats.deadLettered) lines.push(`  ${stats.deadLettered} failure(s) dead-lettered to cdc:dead-letter (see \`cdc-invalidator dead-letters list\`)`);
  lines.push(s.dryRun ? 'dry run: nothing was invalidated' : `applied in ${stats.batches} batch(es)`);
  return lines.join('\n') + '\n';
}

export function formatCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
}
