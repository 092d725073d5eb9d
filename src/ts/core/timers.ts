// The connection's lifecycle timer table: fixed slots of absolute deadlines (µs), Infinity when unset.

export const Timer = {
  HandshakeRetry: 0,
  ConnectDeadline: 1,
  Linger: 2,
} as const;
export type TimerId = (typeof Timer)[keyof typeof Timer];

const COUNT = 3;

export class TimerTable {
  private readonly deadlines = new Float64Array(COUNT).fill(Infinity);

  set(id: TimerId, at: number): void {
    this.deadlines[id] = at;
  }

  clear(id: TimerId): void {
    this.deadlines[id] = Infinity;
  }

  clearAll(): void {
    this.deadlines.fill(Infinity);
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
