import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { BackfillProgress } from './backfill-options';
import { createProgressRenderer, formatEta } from './progress-renderer';

function progress(done: number, total: number, etaSeconds?: number): BackfillProgress {
  return { done, total, rowsPerSec: 1000, etaSeconds, pages: 1 };
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('createProgressRenderer', () => {
  it('without a TTY logs at most one line per interval, on the injected clock', () => {
    const out = new Capture();
    let t = 0;
    const r = createProgressRenderer({ stream: out, logger: pino({ level: 'info' }, out), intervalMs: 5000, now: () => t });
    r.update(progress(100, 1000, 9));
    t = 1000;
    r.update(progress(200, 1000, 8)); // within the interval: no line
    t = 5000;
    r.update(progress(500, 1000, 5));
    const lines = out.text.trim().split('\n').map((l) => JSON.parse(l) as { done: number; percent: number; msg: string });
    assert.deepEqual(lines.map((l) => l.done), [100, 500]);
    assert.equal(lines[1].percent, 50);
    assert.equal(lines[1].msg, 'backfill 500/1000 rows (50%), ETA 5s');
  });

  it('on a TTY draws a cli-progress bar with our ETA and rate', () => {
    const out = Object.assign(new Capture(), { isTTY: true, columns: 120 });
    const r = createProgressRenderer({ stream: out, label: 'public.items' });
    r.update(progress(250, 1000, 90));
    r.update(progress(1000, 1000, 0));
    r.finish();
    assert.match(out.text, /public\.items \[[^\]]+\] 25% \| 250\/1000 rows \| 1000 rows\/s \| ETA 1m30s/);
    assert.match(out.text, /100% \| 1000\/1000 rows/);
  });

  it('formats ETAs for people', () => {
    assert.equal(formatEta(undefined), '--');
    assert.equal(formatEta(42.4), '42s');
    assert.equal(formatEta(3 * 3600 + 5 * 60 + 7), '3h05m');
  });
});
