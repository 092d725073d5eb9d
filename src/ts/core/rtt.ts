// Smoothed RTT and RTT variance in integer µs, updated as libudt does (variance first, then RTT).

export const INITIAL_RTT = 100_000;
export const INITIAL_RTT_VAR = 50_000;

export class RttEstimator {
  rtt = INITIAL_RTT;
  rttVar = INITIAL_RTT_VAR;

  update(sample: number): void {
    // Integer division as libudt's shifts, without their 32-bit overflow on huge (forged) samples.
    this.rttVar = Math.floor((3 * this.rttVar + Math.abs(sample - this.rtt)) / 4);
    this.rtt = Math.floor((7 * this.rtt + sample) / 8);
  }

  reset(rtt = INITIAL_RTT, rttVar = INITIAL_RTT_VAR): void {
    this.rtt = rtt;
    this.rttVar = rttVar;
  }
}
