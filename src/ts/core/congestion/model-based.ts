// A loss-tolerant, model-based controller (BBR-like): paces at the measured bottleneck rate, ignores random loss.

import { seqCmp } from '../seq.js';
import type { CcState, CongestionController } from './controller.js';

const STARTUP_GAIN = 2.885;
const DRAIN_GAIN = 1 / STARTUP_GAIN;
/** Pacing gains of the bandwidth-probing cycle, one phase per min RTT. */
const PROBE_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
const CWND_GAIN = 2;
/** Extra window, in BDPs, per unit of loss rate (1% loss → +4 BDP), capped. */
const HOLE_ALLOWANCE_PER_LOSS = 400;
const MAX_HOLE_ALLOWANCE = 6;
const LOSS_RATE_GAIN = 0.125;
const ROUND_SAMPLES = 64;
/** A round's smallest RTT above this multiple of the min RTT (plus ACK delay slack) means a standing queue. */
const QUEUE_RTT_FACTOR = 1.25;
const SYN_SLACK_US = 10_000;
const QUEUE_DRAIN_GAIN = 0.85;
const BW_QUANTILE = 0.5;
const BW_WINDOW_ROUNDS = 10;
const MIN_RTT_WINDOW_US = 10_000_000;
const PROBE_RTT_US = 200_000;
/** A sample within this factor of the min RTT (plus 1 ms) re-confirms it. */
const MIN_RTT_CONFIRM = 1.05;
const PROBE_RTT_CWND = 4;
const STARTUP_GROWTH = 1.25;
const STARTUP_FLAT_ROUNDS = 3;
/** Startup ends early when a round loses more than this share (the queue overflowed, it is not random loss). */
const STARTUP_LOSS_EXIT = 0.02;
/** In any mode, a round losing more than this share makes the model drop its bandwidth estimate. */
const HIGH_LOSS = 0.2;
const MIN_CWND = 16;
const INITIAL_WINDOW = 32;
const HISTORY = 128;
/** Delivery-rate samples span at least this long, µs (full ACKs come every 10 ms). */
const MIN_SAMPLE_SPAN_US = 20_000;

type Mode = 'startup' | 'drain' | 'probe-bw' | 'probe-rtt';

export class ModelBasedController implements CongestionController {
  readonly name = 'bbr';
  sendPeriod = 1;
  cwnd = INITIAL_WINDOW;
  private state!: CcState;
  private mode: Mode = 'startup';
  private readonly bwByRound = new Float64Array(BW_WINDOW_ROUNDS);
  private readonly roundSamples: number[] = [];
  private roundMinRtt = Infinity;
  private standingQueue = false;
  private standingQueueLoss = false;
  /** Smoothed share of packets reported lost per round. */
  private lossRate = 0;
  private rounds = 0;
  private roundEnd = 0;
  private roundStartDelivered = 0;
  private roundStartLost = 0;
  private btlBw = 0;
  private minRtt = Infinity;
  private minRttStamp = 0;
  private probeRttMin = Infinity;
  private probeRttDoneAt = -1;
  private fullBw = 0;
  private flatRounds = 0;
  private reachedFullBw = false;
  private cycle = 0;
  private cycleStamp = 0;
  private readonly histTime = new Float64Array(HISTORY);
  private readonly histDelivered = new Float64Array(HISTORY);
  private readonly histSent = new Float64Array(HISTORY);
  private histCount = 0;
  private histNext = 0;

  init(state: CcState, now: number): void {
    this.state = state;
    this.mode = 'startup';
    this.roundEnd = state.sndCurr;
    this.minRttStamp = now;
    this.cwnd = INITIAL_WINDOW;
    this.sendPeriod = state.rtt / (STARTUP_GAIN * INITIAL_WINDOW);
    this.record(now);
  }

  /** Packets the path holds at the bottleneck rate over the min RTT. */
  private bdp(): number {
    const rtt = this.minRtt === Infinity ? this.state.rtt : this.minRtt;
    return this.btlBw > 0 ? (this.btlBw * rtt) / 1e6 : INITIAL_WINDOW;
  }

  private record(now: number): void {
    this.histTime[this.histNext] = now;
    this.histDelivered[this.histNext] = this.state.deliveredPackets;
    this.histSent[this.histNext] = this.state.sentPackets;
    this.histNext = (this.histNext + 1) % HISTORY;
    if (this.histCount < HISTORY) this.histCount++;
  }

  /**
   * A bandwidth sample (packets/s) over the most recent span of at least one min RTT: the receiver's arrival speed
   * (measured behind the bottleneck) or, while that is still its start-up value, the cumulative-ACK delivery rate;
   * never more than we sent in the span (the ACK jumps after a hole is repaired, sending cannot).
   */
  private bandwidthSample(now: number): number {
    const s = this.state;
    const span = Math.max(MIN_SAMPLE_SPAN_US, this.minRtt === Infinity ? 0 : this.minRtt);
    let k = 1;
    for (; k < this.histCount; k++) {
      if (now - this.histTime[(this.histNext - k + HISTORY) % HISTORY] >= span) break;
    }
    const i = (this.histNext - k + HISTORY) % HISTORY;
    const dt = now - this.histTime[i];
    if (this.histCount === 0 || dt <= 0) return 0;
    const delivery = ((s.deliveredPackets - this.histDelivered[i]) * 1e6) / dt;
    const sending = ((s.sentPackets - this.histSent[i]) * 1e6) / dt;
    const arrival = s.lastArrivalRate;
    // Loss holes hold the cumulative ACK back, so the receiver's arrival speed (it counts every packet that gets
    // through) is the better measure when it is one; what we sent caps both.
    const sample = arrival > 0 && arrival >= delivery / 2 ? Math.min(sending, arrival) : Math.min(sending, delivery);
    return sample;
  }

  onAck(ackNo: number, now: number): void {
    const s = this.state;
    const rttSample = s.lastRttSample > 0 ? s.lastRttSample : s.rtt;
    if (this.mode === 'probe-rtt') this.probeRttMin = Math.min(this.probeRttMin, rttSample);
    if (s.lastReportedRtt > 0) this.roundMinRtt = Math.min(this.roundMinRtt, s.lastReportedRtt);
    if (rttSample <= this.minRtt) {
      this.minRtt = rttSample;
      this.minRttStamp = now;
    } else if (rttSample <= this.minRtt * MIN_RTT_CONFIRM + SYN_SLACK_US / 10) {
      // A sample this close to the minimum confirms it is still true: no ProbeRTT needed for another window.
      this.minRttStamp = now;
    }
    const rate = this.bandwidthSample(now);
    this.record(now);
    let newRound = false;
    if (seqCmp(ackNo, this.roundEnd) > 0) {
      this.endRound();
      newRound = true;
    }
    this.noteBandwidth(rate);
    this.advanceMode(now, newRound);
    this.applyModel();
  }

  /**
   * Keeps, per round, an upper quantile of the samples rather than the single largest: arrival-speed samples carry
   * jitter, and a max of maxima would pace above the bottleneck.
   */
  private noteBandwidth(rate: number): void {
    if (rate <= 0) return;
    const r = this.roundSamples;
    if (r.length < ROUND_SAMPLES) r.push(rate);
    else r[this.rounds % ROUND_SAMPLES] = rate;
    const sorted = [...r].sort((a, b) => a - b);
    // Startup takes the largest sample: it must grow by its gain per round, and overshoot is what drain is for.
    const q = this.mode === 'startup' ? 1 : BW_QUANTILE;
    this.bwByRound[this.rounds % BW_WINDOW_ROUNDS] = sorted[Math.floor((sorted.length - 1) * q)];
    this.btlBw = Math.max(...this.bwByRound);
  }

  /** Closes a round trip: judges its loss, then opens the next bandwidth slot. */
  private endRound(): void {
    const s = this.state;
    const delivered = s.deliveredPackets - this.roundStartDelivered;
    const roundLost = s.nakLostPackets - this.roundStartLost;
    const lossShare = roundLost / Math.max(1, delivered + roundLost);
    const queueing = s.lastReportedRtt > QUEUE_RTT_FACTOR * this.minRtt + SYN_SLACK_US;
    // Only loss without a queue is taken for random loss (the window's room for holes grows with it); loss while a
    // queue stands is the queue overflowing, and counting it would widen the window that overflowed it.
    if (delivered + roundLost >= 16 && !queueing) this.lossRate += LOSS_RATE_GAIN * (lossShare - this.lossRate);
    else if (queueing && roundLost > 0 && this.mode === 'probe-bw') this.standingQueueLoss = true;
    // Heavy loss is not random noise: scale the estimate down to what got through rather than forgetting it.
    if (lossShare > HIGH_LOSS) for (let i = 0; i < BW_WINDOW_ROUNDS; i++) this.bwByRound[i] *= 1 - lossShare;
    if (this.mode === 'startup' && lossShare > STARTUP_LOSS_EXIT && roundLost >= 8 && queueing) this.enterDrain();
    this.rounds++;
    this.roundEnd = s.sndCurr;
    this.roundStartDelivered = s.deliveredPackets;
    this.roundStartLost = s.nakLostPackets;
    this.roundSamples.length = 0;
    // A round whose every RTT sample stood well above the minimum kept a standing queue: pace below the estimate
    // for the next round so the queue drains (the estimate may sit a little above the bottleneck).
    this.standingQueue =
      this.standingQueueLoss || (this.roundMinRtt !== Infinity && this.roundMinRtt > QUEUE_RTT_FACTOR * this.minRtt + SYN_SLACK_US);
    this.standingQueueLoss = false;
    this.roundMinRtt = Infinity;
    this.bwByRound[this.rounds % BW_WINDOW_ROUNDS] = 0;
  }

  private enterDrain(): void {
    this.mode = 'drain';
    this.reachedFullBw = true;
  }

  private advanceMode(now: number, newRound: boolean): void {
    if (this.mode === 'startup' && newRound) {
      if (this.btlBw >= this.fullBw * STARTUP_GROWTH) {
        this.fullBw = this.btlBw;
        this.flatRounds = 0;
      } else if (++this.flatRounds >= STARTUP_FLAT_ROUNDS) {
        this.enterDrain();
      }
    }
    if (this.mode === 'drain' && this.state.flightSize <= this.bdp()) this.enterProbeBw(now);
    if (this.mode === 'probe-bw' && now - this.cycleStamp > this.minRtt) {
      this.cycle = (this.cycle + 1) % PROBE_GAINS.length;
      this.cycleStamp = now;
    }
    if (this.mode !== 'probe-rtt' && now - this.minRttStamp > MIN_RTT_WINDOW_US) {
      // A fixed time at half the BDP: waiting for the flight to fall to a few packets could take many round trips
      // under loss, since the cumulative flight counts everything behind the oldest hole.
      this.mode = 'probe-rtt';
      this.probeRttMin = Infinity;
      this.probeRttDoneAt = now + PROBE_RTT_US + (this.minRtt === Infinity ? 0 : this.minRtt);
    }
    if (this.mode === 'probe-rtt') {
      if (now >= this.probeRttDoneAt) {
        if (this.probeRttMin < Infinity) this.minRtt = this.probeRttMin;
        this.minRttStamp = now;
        if (this.reachedFullBw) this.enterProbeBw(now);
        else this.mode = 'startup';
      }
    }
  }

  private enterProbeBw(now: number): void {
    this.mode = 'probe-bw';
    this.cycle = 2;
    this.cycleStamp = now;
  }

  private applyModel(): void {
    const m = this.mode;
    // Startup never paces below its initial window per RTT, whatever the first samples say.
    const floor = m === 'startup' ? (INITIAL_WINDOW * 1e6) / Math.max(1, this.state.rtt) : 0;
    const bw = Math.max(this.btlBw, floor);
    if (bw <= 0) return;
    let gain = m === 'startup' ? STARTUP_GAIN : m === 'drain' ? DRAIN_GAIN : m === 'probe-rtt' ? 1 : PROBE_GAINS[this.cycle];
    if (m === 'probe-bw' && this.standingQueue && gain >= 1) gain = QUEUE_DRAIN_GAIN;
    this.sendPeriod = 1e6 / (gain * bw);
    // Cumulative ACKs count everything behind the oldest hole as in flight, so under random loss the window needs
    // room for about a repair time's worth of packets beyond the pipe itself.
    const cwndGain = m === 'startup' || m === 'drain' ? CWND_GAIN : CWND_GAIN + Math.min(MAX_HOLE_ALLOWANCE, HOLE_ALLOWANCE_PER_LOSS * this.lossRate);
    this.cwnd = m === 'probe-rtt' ? Math.max(PROBE_RTT_CWND, this.bdp() / 2) : Math.max(MIN_CWND, cwndGain * this.bdp() + MIN_CWND);
  }

  /** Loss is read per round from CcState.nakLostPackets, where a range the receiver re-reports counts once. */
  onLoss(): void {}


  /** A retransmission time-out during recovery is expected under heavy loss: the model stays as it is. */
  onTimeout(): void {}
}
