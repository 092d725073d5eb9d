// UDT native congestion control (CUDTCC, DAIMD): slow start to the flow window, then rate increase by spare capacity.

import { seqCmp, seqDec, seqLen } from '../seq.js';
import type { CcState, CongestionController } from './controller.js';

/** Rate-control interval (SYN), µs. */
const RC_INTERVAL = 10_000;
const MIN_INC = 0.01;
const MAX_DECREASES_PER_PERIOD = 5;

export class UdtNativeController implements CongestionController {
  readonly name = 'udt';
  sendPeriod = 1;
  cwnd = 16;
  private state!: CcState;
  private slowStart = true;
  private lastAck = 0;
  private lastDecSeq = 0;
  private lastDecPeriod = 1;
  private avgNakNum = 0;
  private nakCount = 0;
  private decRandom = 1;
  private decCount = 0;
  private lossFlag = false;
  private lastRcTime = 0;

  init(state: CcState, now: number): void {
    this.state = state;
    this.sendPeriod = 1;
    this.cwnd = 16;
    this.slowStart = true;
    this.lastAck = state.sndCurr;
    this.lastDecSeq = seqDec(this.lastAck);
    this.lastDecPeriod = 1;
    this.avgNakNum = 0;
    this.nakCount = 0;
    this.decRandom = 1;
    this.decCount = 0;
    this.lossFlag = false;
    this.lastRcTime = now;
  }

  /** The period to use when slow start ends: the receiver's arrival rate, else the window spread over RTT + SYN. */
  private leaveSlowStart(): boolean {
    this.slowStart = false;
    const s = this.state;
    // libudt uses its receive-rate average whenever it is positive, but that average starts at 16 packets/s and the
    // receiver's first reports are 0 or 1 (its estimator starts from one packet per second): an early loss then
    // leaves slow start at ~62 ms per packet for seconds. We use it only once the receiver has measured a rate.
    if (s.recvRate > 0 && s.lastArrivalRate > 1) {
      this.sendPeriod = 1e6 / s.recvRate;
      return true;
    }
    // libudt computes cwnd / (RTT + SYN) here, inverting the units (quirk Q8); we use the intended value.
    this.sendPeriod = (s.rtt + RC_INTERVAL) / this.cwnd;
    return false;
  }

  onAck(ackNo: number, now: number): void {
    if (now - this.lastRcTime < RC_INTERVAL) return;
    this.lastRcTime = now;
    const s = this.state;
    if (this.slowStart) {
      this.cwnd += seqLen(this.lastAck, ackNo);
      this.lastAck = ackNo;
      if (this.cwnd > s.maxFlowWindow) this.leaveSlowStart();
      else return;
    } else {
      this.cwnd = (s.recvRate / 1e6) * (s.rtt + RC_INTERVAL) + 16;
    }
    if (this.lossFlag) {
      this.lossFlag = false;
      return;
    }
    let spare = s.bandwidth - 1e6 / this.sendPeriod;
    if (this.sendPeriod > this.lastDecPeriod && s.bandwidth / 9 < spare) spare = s.bandwidth / 9;
    let inc: number;
    if (spare <= 0) {
      inc = MIN_INC;
    } else {
      inc = (Math.pow(10, Math.ceil(Math.log10(spare * s.mss * 8))) * 0.0000015) / s.mss;
      if (inc < MIN_INC) inc = MIN_INC;
    }
    this.sendPeriod = (this.sendPeriod * RC_INTERVAL) / (this.sendPeriod * inc + RC_INTERVAL);
  }

  onLoss(ranges: ReadonlyArray<readonly [number, number]>): void {
    if (ranges.length === 0) return;
    if (this.slowStart && this.leaveSlowStart()) return;
    this.lossFlag = true;
    const s = this.state;
    if (seqCmp(ranges[0][0], this.lastDecSeq) > 0) {
      this.lastDecPeriod = this.sendPeriod;
      this.sendPeriod = Math.ceil(this.sendPeriod * 1.125);
      this.avgNakNum = Math.ceil(this.avgNakNum * 0.875 + this.nakCount * 0.125);
      this.nakCount = 1;
      this.decCount = 1;
      this.lastDecSeq = s.sndCurr;
      this.decRandom = Math.max(1, Math.ceil(this.avgNakNum * s.random()));
    } else if (this.decCount++ < MAX_DECREASES_PER_PERIOD && ++this.nakCount % this.decRandom === 0) {
      this.sendPeriod = Math.ceil(this.sendPeriod * 1.125);
      this.lastDecSeq = s.sndCurr;
    }
  }

  onTimeout(): void {
    if (this.slowStart) this.leaveSlowStart();
  }
}
