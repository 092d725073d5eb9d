// A fixed-rate controller: paces at a set bit rate with a fixed window, ignoring loss (for tests and measurement).

import type { CcState, CongestionController } from './controller.js';

export interface FixedRateOptions {
  /** Wire bit rate including IP/UDP/UDT headers, bits per second. */
  bitsPerSecond: number;
  /** Window in packets; default 100,000 (flow control still applies). */
  window?: number;
}

export class FixedRateController implements CongestionController {
  readonly name = 'fixed';
  sendPeriod = 1;
  cwnd: number;

  constructor(private readonly options: FixedRateOptions) {
    this.cwnd = options.window ?? 100_000;
  }

  init(state: CcState): void {
    this.sendPeriod = (state.mss * 8 * 1e6) / this.options.bitsPerSecond;
  }

  onAck(): void {}
  onLoss(): void {}
  onTimeout(): void {}
}
