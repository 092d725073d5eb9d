// Sorted list of lost sequence numbers kept as inclusive ranges (sender and receiver loss lists).

import { seqCmp, seqDec, seqInc, seqLen } from './seq.js';

/** The columns of every list that holds no arrays of its own (never written to). */
const NONE: number[] = [];

/**
 * Ranges are kept sorted and disjoint; adjacent ranges are merged. All members are assumed to lie within a window
 * much smaller than half the sequence space, so wrap-safe comparison orders them. `stamp` carries a per-range time
 * (the receiver's last NAK time for that range); merged ranges keep the older stamp so they get reported first.
 */
export class LossList {
  private starts = NONE;
  private ends = NONE;
  private stamps = NONE;
  private total = 0;

  get size(): number {
    return this.total;
  }

  get rangeCount(): number {
    return this.starts.length;
  }

  rangeStart(i: number): number {
    return this.starts[i];
  }

  rangeEnd(i: number): number {
    return this.ends[i];
  }

  rangeStamp(i: number): number {
    return this.stamps[i];
  }

  setRangeStamp(i: number, t: number): void {
    this.stamps[i] = t;
  }

  first(): number {
    return this.starts.length ? this.starts[0] : -1;
  }

  last(): number {
    return this.ends.length ? this.ends[this.ends.length - 1] : -1;
  }

  clear(): void {
    this.starts = this.ends = this.stamps = NONE;
    this.total = 0;
  }

  /** Gives back the columns' memory when empty (an idle connection's lists hold none). */
  trim(): void {
    if (this.starts.length === 0 && this.starts !== NONE) this.clear();
  }

  /** Index of the first range whose end is not before seq. */
  private lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqCmp(this.ends[mid], seq) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(seq: number): boolean {
    const i = this.lowerBound(seq);
    return i < this.starts.length && seqCmp(this.starts[i], seq) <= 0;
  }

  /** Adds [a, b]; returns how many sequence numbers were not already present. */
  insert(a: number, b: number, stamp = 0): number {
    if (seqCmp(a, b) > 0) return 0;
    const n = this.starts.length;
    // Fast path: appending past the last range (the receiver's only case, and the usual sender case).
    if (n === 0 || seqCmp(a, seqInc(this.ends[n - 1])) > 0) {
      if (this.starts === NONE) {
        this.starts = [];
        this.ends = [];
        this.stamps = [];
      }
      this.starts.push(a);
      this.ends.push(b);
      this.stamps.push(stamp);
      const added = seqLen(a, b);
      this.total += added;
      return added;
    }
    // First range that touches or follows [a, b] (end >= a - 1).
    let i = this.lowerBound(seqDec(a));
    let start = a;
    let end = b;
    let st = stamp;
    let removed = 0;
    let j = i;
    while (j < this.starts.length && seqCmp(this.starts[j], seqInc(b)) <= 0) {
      if (seqCmp(this.starts[j], start) < 0) start = this.starts[j];
      if (seqCmp(this.ends[j], end) > 0) end = this.ends[j];
      st = Math.min(st, this.stamps[j]);
      removed += seqLen(this.starts[j], this.ends[j]);
      j++;
    }
    this.starts.splice(i, j - i, start);
    this.ends.splice(i, j - i, end);
    this.stamps.splice(i, j - i, st);
    const after = seqLen(start, end);
    this.total += after - removed;
    return after - removed;
  }

  /** Removes one sequence number; returns whether it was present. */
  remove(seq: number): boolean {
    const i = this.lowerBound(seq);
    if (i >= this.starts.length || seqCmp(this.starts[i], seq) > 0) return false;
    const s = this.starts[i];
    const e = this.ends[i];
    this.total--;
    if (s === e) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
      this.stamps.splice(i, 1);
    } else if (s === seq) {
      this.starts[i] = seqInc(seq);
    } else if (e === seq) {
      this.ends[i] = seqDec(seq);
    } else {
      this.ends[i] = seqDec(seq);
      this.starts.splice(i + 1, 0, seqInc(seq));
      this.ends.splice(i + 1, 0, e);
      this.stamps.splice(i + 1, 0, this.stamps[i]);
    }
    return true;
  }

  /** Removes every member in [a, b]; returns how many were removed. */
  removeRange(a: number, b: number): number {
    if (seqCmp(a, b) > 0) return 0;
    let removed = 0;
    let i = this.lowerBound(a);
    while (i < this.starts.length && seqCmp(this.starts[i], b) <= 0) {
      const s = this.starts[i];
      const e = this.ends[i];
      const cutFrom = seqCmp(s, a) < 0 ? a : s;
      const cutTo = seqCmp(e, b) > 0 ? b : e;
      removed += seqLen(cutFrom, cutTo);
      const keepLeft = seqCmp(s, cutFrom) < 0;
      const keepRight = seqCmp(e, cutTo) > 0;
      if (keepLeft && keepRight) {
        this.ends[i] = seqDec(cutFrom);
        this.starts.splice(i + 1, 0, seqInc(cutTo));
        this.ends.splice(i + 1, 0, e);
        this.stamps.splice(i + 1, 0, this.stamps[i]);
        break;
      } else if (keepLeft) {
        this.ends[i] = seqDec(cutFrom);
        i++;
      } else if (keepRight) {
        this.starts[i] = seqInc(cutTo);
        break;
      } else {
        this.starts.splice(i, 1);
        this.ends.splice(i, 1);
        this.stamps.splice(i, 1);
      }
    }
    this.total -= removed;
    return removed;
  }

  /** Removes every member before seq (exclusive). */
  removeBefore(seq: number): number {
    if (this.starts.length === 0 || seqCmp(this.starts[0], seq) >= 0) return 0;
    return this.removeRange(this.starts[0], seqDec(seq));
  }

  /** Takes the smallest member out, or returns -1 when empty. */
  popFirst(): number {
    if (this.starts.length === 0) return -1;
    const s = this.starts[0];
    this.total--;
    if (s === this.ends[0]) {
      this.starts.shift();
      this.ends.shift();
      this.stamps.shift();
    } else {
      this.starts[0] = seqInc(s);
    }
    return s;
  }

  /** Ranges as [start, end] pairs (tests, diagnostics). */
  toRanges(): Array<[number, number]> {
    return this.starts.map((s, i) => [s, this.ends[i]]);
  }
}
