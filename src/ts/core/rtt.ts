// Smoothed RTT and RTT variance in integer µs, updated as libudt does (variance first, then RTT).

export const INITIAL_RTT = 100_000;
export const INITIAL_RTT_VAR = 50_000;

export class RttEstimator {
  rtt = INITIAL_RTT;
  rttVar = INITIAL_RTT_VAR;

  update(sample: number): void {
    this.rttVar = (3 * this.rttVar + Math.abs(sample - this.rtt)) >> 2;
    this.rtt = (7 * this.rtt + sample) >> 3;
  }

  reset(rtt = INITIAL_RTT, rttVar = INITIAL_RTT_VAR): void {
    this.rtt = rtt;
    this.rttVar = rttVar;
  }
}
