import { childLogger, counter, errorMessage } from '@cdc/core';
import { L1HeartbeatMessageV2, buildL1Heartbeat } from '@cdc/protocol';
import { L1Sequencer } from './l1-sequencer';

export interface L1HeartbeaterOptions {
  readonly sequencer: L1Sequencer;
  /** A channel with no message for this long gets a heartbeat. */
  readonly intervalMs: number;
  /** Channels to beat on from the start (read on every tick, so a rules reload applies). */
  readonly channels: () => Iterable<string>;
  /** Publishes on the connection the invalidations use, so a heartbeat never overtakes one. */
  readonly publish: (messages: readonly L1HeartbeatMessageV2[]) => Promise<void>;
}

const log = childLogger('l1-heartbeat');
const metrics = {
  published: counter('cdc_l1_heartbeats_published_total', 'L1 heartbeats published on idle pub/sub channels'),
  failed: counter('cdc_l1_heartbeat_errors_total', 'Heartbeat publishes that failed (subscribers will flush their L1 on silence)'),
};

/**
 * Tells subscribers on idle channels that the worker is alive and what the channel's last
 * seq is, so a lost last message shows as a gap within one interval and a dead worker or a
 * dead connection shows as silence. Runs while the sink is started.
 */
export class L1Heartbeater {
  private timer?: NodeJS.Timeout;
  private beating = false;
  private failing = false;

  constructor(private readonly options: L1HeartbeaterOptions) {}

  start(): void {
    this.stop();
    // Ticking at a quarter of the interval keeps the longest silence near 1.25 intervals.
    const tickMs = Math.max(10, Math.floor(this.options.intervalMs / 4));
    this.timer = setInterval(() => void this.beat(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: a heartbeat on every idle channel. Exposed for tests. */
  async beat(nowMs = Date.now()): Promise<void> {
    if (this.beating) return; // a slow Redis: the next round comes soon enough
    this.beating = true;
    try {
      const { sequencer } = this.options;
      for (const channel of this.options.channels()) sequencer.track(channel);
      const stream = sequencer.stream;
      const due = sequencer.takeIdle(nowMs, this.options.intervalMs);
      if (due.length === 0) return;
      await this.options.publish(due.map((d) => buildL1Heartbeat(stream, d.channel, d.seq, nowMs)));
      metrics.published.inc(due.length);
      if (this.failing) log.info('heartbeats publish again');
      this.failing = false;
    } catch (err) {
      metrics.failed.inc();
      // Once per outage, not every tick: the sink's own errors say the rest.
      if (!this.failing) log.warn({ err: errorMessage(err) }, 'heartbeat publish failed');
      this.failing = true;
    } finally {
      this.beating = false;
    }
  }
}
