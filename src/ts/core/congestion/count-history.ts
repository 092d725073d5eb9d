// A ring of cumulative packet counts stamped at ACK times, read back as rates over past spans (for model-based CC).

export class CountHistory {
  private readonly times: Float64Array;
  private readonly counts: Float64Array;
  private size = 0;
  private next = 0;

  constructor(private readonly capacity: number) {
    this.times = new Float64Array(capacity);
    this.counts = new Float64Array(capacity);
  }

  record(now: number, count: number): void {
    this.times[this.next] = now;
    this.counts[this.next] = count;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Slot `k` steps back from the newest (k = 1 is the newest). */
  private slot(k: number): number {
    return (this.next - k + this.capacity) % this.capacity;
  }

  /** The count at time `t`, interpolated between records; NaN when `t` is older than the history. */
  at(t: number): number {
    for (let k = 1; k <= this.size; k++) {
      const i = this.slot(k);
      if (this.times[i] > t) continue;
      if (k === 1) return this.counts[i];
      const j = this.slot(k - 1);
      const span = this.times[j] - this.times[i];
      return span > 0 ? this.counts[i] + ((this.counts[j] - this.counts[i]) * (t - this.times[i])) / span : this.counts[j];
    }
    return NaN;
  }

  /** Counts per second over [from, to]; 0 when the history does not reach back to `from`. */
  rate(from: number, to: number): number {
    const a = this.at(from);
    const b = this.at(to);
    return to > from && !Number.isNaN(a) && !Number.isNaN(b) ? ((b - a) * 1e6) / (to - from) : 0;
  }
}
