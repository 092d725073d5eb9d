// A CcState whose fields a test sets by hand, to step a congestion controller without a sender.
import type { CcState } from '../../src/ts/core/congestion/controller.js';

type Fields = { -readonly [K in keyof CcState as CcState[K] extends number ? K : never]: CcState[K] };

export class FakeCcState implements CcState {
  mss = 1500;
  sndCurr: number;
  sndLastAck: number;
  rtt = 100_000;
  rttVar = 50_000;
  lastRttSample = 100_000;
  lastReportedRtt = 100_000;
  recvRate = 0;
  lastArrivalRate = 0;
  bandwidth = 1;
  maxFlowWindow = 8192;
  flightSize = 0;
  sentPackets = 0;
  nakLostPackets = 0;
  deliveredPackets = 0;
  /** What random() returns. */
  randomValue = 0.5;

  constructor(isn: number, fields: Partial<Fields> = {}) {
    this.sndCurr = isn - 1;
    this.sndLastAck = isn;
    Object.assign(this, fields);
  }

  random(): number {
    return this.randomValue;
  }
}
