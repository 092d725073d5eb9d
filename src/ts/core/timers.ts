// The connection's lifecycle timer table: fixed slots of absolute deadlines (µs), Infinity when unset.

export const Timer = {
  HandshakeRetry: 0,
  ConnectDeadline: 1,
  Linger: 2,
} as const;
export type TimerId = (typeof Timer)[keyof typeof Timer];

const COUNT = 3;
/** The table of every connection with no timer set (never written to): a connected, open one holds no array. */
const NONE_SET = new Float64Array(COUNT).fill(Infinity);

export class TimerTable {
  private deadlines = NONE_SET;

  set(id: TimerId, at: number): void {
    if (this.deadlines === NONE_SET) this.deadlines = NONE_SET.slice();
    this.deadlines[id] = at;
  }

  clear(id: TimerId): void {
    if (this.deadlines !== NONE_SET) this.deadlines[id] = Infinity;
  }

  clearAll(): void {
    this.deadlines = NONE_SET;
  }

  get(id: TimerId): number {
    return this.deadlines[id];
  }

  /** Whether the timer is set and expired at `now` (it stays set; the caller re-arms or clears it). */
  due(id: TimerId, now: number): boolean {
    return now >= this.deadlines[id];
  }

  next(): number {
    let t = Infinity;
    for (let i = 0; i < COUNT; i++) if (this.deadlines[i] < t) t = this.deadlines[i];
    return t;
  }
}
