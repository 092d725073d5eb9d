// Receiver-side packet arrival speed and packet-pair link capacity estimators (spec §6.4).

const ARRIVAL_WINDOW = 16;
const PROBE_WINDOW = 64;

/** Sorting space shared by every estimator (the core runs on one thread). */
const scratch = new Int32Array(PROBE_WINDOW);
/** Windows as they start; an estimator gets its own copy at its first sample, so idle connections hold none. */
const ARRIVAL_START = new Int32Array(ARRIVAL_WINDOW).fill(1_000_000);
const PROBE_START = new Int32Array(PROBE_WINDOW).fill(1000);

/** The median libudt uses: the element at sorted position `window/2` among the first `window-1` entries. */
function libudtMedian(values: Int32Array): number {
  const n = values.length - 1;
  for (let i = 0; i < n; i++) scratch[i] = values[i];
  const part = scratch.subarray(0, n);
  part.sort();
  return part[values.length >> 1];
}

export class ArrivalSpeed {
  private intervals = ARRIVAL_START;
  private next = 0;
  private lastArrival = -1;
  /** Packets that arrived at `lastArrival` exactly. */
  private group = 0;

  /**
   * Records a data packet arrival at `now` (µs). Packets the kernel coalesced (GRO, or GSO on loopback) share one
   * time stamp; the gap after such a group is spread evenly over its packets, so the median sees the sender's
   * spacing rather than zeros (libudt stamps each recvmsg itself and never meets this).
   */
  onArrival(now: number): void {
    if (now === this.lastArrival) {
      this.group++;
      return;
    }
    if (this.lastArrival >= 0) {
      if (this.intervals === ARRIVAL_START) this.intervals = ARRIVAL_START.slice();
      const each = Math.min(0x7fffffff, Math.round((now - this.lastArrival) / this.group));
      for (let k = Math.min(this.group, ARRIVAL_WINDOW); k > 0; k--) {
        this.intervals[this.next] = each;
        this.next = (this.next + 1) % ARRIVAL_WINDOW;
      }
    }
    this.lastArrival = now;
    this.group = 1;
  }

  /** Packets per second, or 0 when too few intervals agree with the median. */
  speed(): number {
    const m = libudtMedian(this.intervals);
    const lo = m >> 3;
    const hi = m << 3;
    let count = 0;
    let sum = 0;
    for (let i = 0; i < ARRIVAL_WINDOW; i++) {
      const v = this.intervals[i];
      if (v > lo && v < hi) {
        count++;
        sum += v;
      }
    }
    if (count <= ARRIVAL_WINDOW >> 1) return 0;
    const mean = Math.floor(sum / count);
    return mean > 0 ? Math.ceil(1e6 / mean) : 0;
  }
}

export class LinkCapacity {
  private intervals = PROBE_START;
  private next = 0;
  private probeStart = -1;

  /** Records a data packet with sequence `seq` arriving at `now`: packets 16n and 16n+1 form a probe pair. */
  onArrival(seq: number, now: number): void {
    const low = seq & 0xf;
    if (low === 0) {
      this.probeStart = now;
    } else if (low === 1 && this.probeStart >= 0) {
      if (this.intervals === PROBE_START) this.intervals = PROBE_START.slice();
      this.intervals[this.next] = Math.min(0x7fffffff, Math.round(now - this.probeStart));
      this.next = (this.next + 1) % PROBE_WINDOW;
    }
  }

  /** Packets per second, never 0. */
  capacity(): number {
    const m = libudtMedian(this.intervals);
    const lo = m >> 3;
    const hi = m << 3;
    let count = 1;
    let sum = m;
    for (let i = 0; i < PROBE_WINDOW; i++) {
      const v = this.intervals[i];
      if (v > lo && v < hi) {
        count++;
        sum += v;
      }
    }
    const mean = sum / count;
    return mean > 0 ? Math.ceil(1e6 / mean) : 1_000_000;
  }
}
