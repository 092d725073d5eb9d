// Transfer progress on stderr: cli-progress bars on a terminal, one plain line per second otherwise.

import cliProgress from 'cli-progress';
import { formatBytes, formatDuration, formatRate, mbps } from './format.js';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'off';

export interface ProgressItem {
  /** Bytes done so far (of this run; a resumed transfer counts from its start offset). */
  update(done: number): void;
  /** Removes the item; the line, if given, is printed in its place. */
  finish(line?: string): void;
}

interface Sample {
  t: number;
  v: number;
}

/** Rate over a sliding window, so the figure follows the link rather than the whole run's average. */
class RateMeter {
  private readonly samples: Sample[] = [];
  constructor(private readonly windowMs = 3000) {}

  add(t: number, v: number): void {
    this.samples.push({ t, v });
    while (this.samples.length > 2 && t - this.samples[1].t >= this.windowMs) this.samples.shift();
  }

  /** Bytes per second. */
  rate(): number {
    const s = this.samples;
    if (s.length < 2) return 0;
    const a = s[0];
    const b = s[s.length - 1];
    return b.t > a.t ? ((b.v - a.v) * 1000) / (b.t - a.t) : 0;
  }
}

class Item implements ProgressItem {
  value: number;
  readonly meter = new RateMeter();
  bar: cliProgress.SingleBar | null = null;
  finished = false;

  constructor(
    private readonly board: ProgressBoard,
    readonly label: string,
    readonly total: number | null,
    readonly start: number,
  ) {
    this.value = start;
    this.meter.add(performance.now(), start);
  }

  update(done: number): void {
    this.value = done;
    this.meter.add(performance.now(), done);
    this.bar?.update(this.total ? Math.min(done, this.total) : 0, this.payload());
  }

  payload(): { text: string } {
    const rate = this.meter.rate();
    const parts = [this.total !== null ? `${formatBytes(this.value)} / ${formatBytes(this.total)}` : formatBytes(this.value), formatRate(mbps(rate, 1))];
    if (this.total !== null) parts.push(`ETA ${rate > 0 ? formatDuration((this.total - this.value) / rate) : '--'}`);
    return { text: parts.join('  ') };
  }

  line(): string {
    const pct = this.total ? ` (${((100 * this.value) / this.total).toFixed(1)}%)` : '';
    return `${this.label}: ${this.payload().text}${pct}`;
  }

  finish(line?: string): void {
    if (this.finished) return;
    this.finished = true;
    this.board.remove(this, line);
  }
}

export class ProgressBoard {
  readonly mode: Exclude<ProgressMode, 'auto'>;
  private readonly items = new Set<Item>();
  private multi: cliProgress.MultiBar | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    mode: ProgressMode = 'auto',
    private readonly intervalMs = 1000,
  ) {
    this.mode = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  }

  add(label: string, total: number | null, start = 0): ProgressItem {
    const item = new Item(this, label, total, start);
    this.items.add(item);
    if (this.mode === 'bar') {
      this.multi ??= new cliProgress.MultiBar({ stream: this.stream, hideCursor: true, clearOnComplete: false, gracefulExit: false, linewrap: false, fps: 5, barsize: 30 });
      const known = total !== null && total > 0;
      const format: cliProgress.GenericFormatter = (options, params, payload: { text: string }) => {
        const bar = known ? `[${cliProgress.Format.BarFormat(params.progress, options)}] ${String(Math.floor(params.progress * 100)).padStart(3)}%  ` : '';
        return `${label} ${bar}${payload.text}`;
      };
      item.bar = this.multi.create(known ? total : 1, known ? start : 0, { text: '' }, { format });
      item.bar.update(item.payload());
    } else if (this.mode === 'lines' && !this.timer) {
      this.timer = setInterval(() => this.printLines(), this.intervalMs);
      this.timer.unref();
    }
    return item;
  }

  /** Prints a line without tearing the bars. */
  log(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  remove(item: Item, line?: string): void {
    this.items.delete(item);
    if (item.bar && this.multi) {
      item.bar.update(item.value, item.payload());
      if (this.items.size === 0) {
        this.multi.stop();
        this.multi = null;
      } else {
        this.multi.remove(item.bar);
      }
    }
    if (line) this.log(line);
    if (this.items.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  stop(): void {
    for (const item of [...this.items]) item.finish();
  }

  private printLines(): void {
    for (const item of this.items) this.stream.write(`${item.line()}\n`);
  }
}
