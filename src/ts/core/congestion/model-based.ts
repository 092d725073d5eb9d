// A loss-tolerant, model-based controller (BBR-like): paces at the measured bottleneck rate, ignores random loss.

import { seqCmp, seqDec, seqInc, seqOff } from '../seq.js';
import type { CcState, CongestionController } from './controller.js';
import { CountHistory } from './count-history.js';

const STARTUP_GAIN = 2.885;
const DRAIN_GAIN = 1 / STARTUP_GAIN;
/** Pacing gains of the bandwidth-probing cycle, one phase per round. */
const PROBE_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
const CWND_GAIN = 2;
/** Once startup sees the pipe full, the window bounds the queue it builds while it makes sure to half a BDP. */
const STARTUP_FULL_CWND_GAIN = 1.5;
/** Packets arriving at less than this share of the rate they were sent at: the bottleneck is full. */
const PIPE_FULL_RATIO = 0.8;
/** At most this many BDPs of packets held behind loss holes are left out of the window's count. */
const MAX_HOLE_ROOM = 6;
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
/** In any mode, a round losing more than this share makes the model scale its bandwidth estimate down. */
const HIGH_LOSS = 0.2;
/** A round losing more than this share is congested: loss holes then count against the window. */
const CONGESTION_LOSS = 0.05;
const MIN_CONGESTION_LOSSES = 8;
/** One such round scales the estimate by at least this factor. */
const MAX_CUT = 0.5;
const MIN_CWND = 16;
const INITIAL_WINDOW = 32;
const HISTORY = 128;
/** Rates are taken over at least this long, µs (full ACKs come every 10 ms). */
const MIN_SAMPLE_SPAN_US = 20_000;
/** The sender sends every 16th packet back to back with the next (UDT's packet-pair probe): 16 packets per 15 periods. */
const PAIR_SPACING = 16 / 15;
/** An arrival speed above this multiple of the rate its packets were sent at is a timestamp artefact. */
const IMPLAUSIBLE_ARRIVAL = 8;

type Mode = 'startup' | 'drain' | 'probe-bw' | 'probe-rtt';

export class ModelBasedController implements CongestionController {
  readonly name = 'bbr';
  sendPeriod = 1;
  cwnd = INITIAL_WINDOW;
  private state!: CcState;
  private mode: Mode = 'startup';
  private readonly bwByRound = new Float64Array(BW_WINDOW_ROUNDS);
  private readonly roundSamples: number[] = [];
  private roundSampleCount = 0;
  /** While the arrival speed is distrusted, the round's largest sample (receipt rates are smooth averages). */
  private roundReceiptMax = 0;
  private arrivalDistrustedUntil = 0;
  private receiptOnly = false;
  private roundMinRtt = Infinity;
  private standingQueue = false;
  private standingQueueLoss = false;
  private rounds = 0;
  private roundEnd = 0;
  private roundStartSent = 0;
  private lastRoundSent = 0;
  private roundStartLost = 0;
  private btlBw = 0;
  private minRtt = Infinity;
  private minRttStamp = 0;
  private probeRttMin = Infinity;
  private probeRttDoneAt = -1;
  private fullBw = 0;
  private flatRounds = 0;
  private reachedFullBw = false;
  private pipeFull = false;
  private cutLastRound = false;
  private cycle = 0;
  /** The newest sequence number known to have reached the receiver (-1: none yet). */
  private knownReceived = -1;
  private readonly sentHistory = new CountHistory(HISTORY);
  /** Packets known to have reached the receiver: acknowledged, or before the newest one a NAK or ACK showed arrived. */
  private readonly receivedHistory = new CountHistory(HISTORY);

  init(state: CcState, now: number): void {
    this.state = state;
    this.mode = 'startup';
    this.roundEnd = now + state.rtt;
    this.minRttStamp = now;
    this.cwnd = INITIAL_WINDOW;
    this.sendPeriod = state.rtt / (STARTUP_GAIN * INITIAL_WINDOW);
    this.record(now);
  }

  /** Packets the path holds at rate `bw` (default: the bottleneck estimate) over the min RTT. */
  private bdp(bw = this.btlBw): number {
    const rtt = this.minRtt === Infinity ? this.state.rtt : this.minRtt;
    return bw > 0 ? (bw * rtt) / 1e6 : INITIAL_WINDOW;
  }

  /** A round trip as the receiver measures it (ACK to ACK2), which no loss hole lengthens. */
  private roundTrip(): number {
    const s = this.state;
    return s.lastReportedRtt > 0 ? s.lastReportedRtt : s.rtt;
  }

  private record(now: number): void {
    this.sentHistory.record(now, this.state.sentPackets);
    this.receivedHistory.record(now, this.state.deliveredPackets + this.held());
  }

  /**
   * A bandwidth sample (packets/s): the receiver's arrival speed (measured behind the bottleneck from its last 16
   * packets, not held back by loss holes the way the cumulative ACK is), capped by the rate those packets were sent
   * at one round trip earlier (the ACK jumps after a hole is repaired and receive timing is bursty, sending is
   * neither). While the receiver still reports its start-up value, or reports a speed far above anything we sent (a
   * receiver short of CPU reads a backlog with near-equal timestamps: hundreds of thousands of packets a second, which
   * the cap alone would let startup chase), the rate packets were known to arrive over at least one min RTT instead.
   */
  private bandwidthSample(now: number): number {
    const span = Math.max(MIN_SAMPLE_SPAN_US, this.minRtt === Infinity ? 0 : this.minRtt);
    const receipt = this.receivedHistory.rate(now - span, now);
    const sentAt = now - this.roundTrip();
    const sending = this.sentHistory.rate(sentAt - MIN_SAMPLE_SPAN_US, sentAt);
    const sendingLong = this.sentHistory.rate(sentAt - span, sentAt);
    const arrival = this.state.lastArrivalRate;
    // Timestamps bunched this much come with long gaps too: no arrival speed is taken for a while.
    const sent = Math.max(sending, sendingLong);
    if (sent > 0 && arrival > IMPLAUSIBLE_ARRIVAL * sent) this.arrivalDistrustedUntil = now + 2 * span;
    this.receiptOnly = now < this.arrivalDistrustedUntil;
    if (arrival > 0 && arrival >= receipt / 2 && !this.receiptOnly) {
      // The packets reach the receiver more slowly than we sent them: they queue at the bottleneck.
      if (arrival < PIPE_FULL_RATIO * sending) this.pipeFull = true;
      return Math.min(sending, arrival);
    }
    return Math.min(sendingLong, receipt);
  }

  onAck(ackNo: number, now: number): void {
    const s = this.state;
    this.noteReceived(seqDec(ackNo));
    // Our own sample spans the repair of any hole the ACK waited at; the receiver's (ACK to ACK2) never does.
    const own = s.lastRttSample > 0 ? s.lastRttSample : s.rtt;
    const rttSample = Math.min(own, s.lastReportedRtt > 0 ? s.lastReportedRtt : Infinity);
    if (this.mode === 'probe-rtt') this.probeRttMin = Math.min(this.probeRttMin, rttSample);
    if (s.lastReportedRtt > 0) this.roundMinRtt = Math.min(this.roundMinRtt, s.lastReportedRtt);
    if (rttSample <= this.minRtt) {
      this.minRtt = rttSample;
      this.minRttStamp = now;
    } else if (rttSample <= this.minRtt * MIN_RTT_CONFIRM + SYN_SLACK_US / 10) {
      // A sample this close to the minimum confirms it is still true: no ProbeRTT needed for another window.
      this.minRttStamp = now;
    }
    this.record(now);
    const rate = this.bandwidthSample(now);
    let newRound = false;
    if (now >= this.roundEnd) {
      this.endRound(now);
      newRound = true;
    }
    this.noteBandwidth(rate);
    this.advanceMode(now, newRound);
    this.applyModel();
  }

  /**
   * Keeps, per round, the median of the samples rather than the largest: arrival-speed samples carry jitter, and a
   * max of maxima would pace above the bottleneck. While the arrival speed is distrusted, the samples are averages
   * over a min RTT, and only the largest shows a probing phase in full.
   */
  private noteBandwidth(rate: number): void {
    if (rate <= 0) return;
    if (this.receiptOnly) this.roundReceiptMax = Math.max(this.roundReceiptMax, rate);
    const r = this.roundSamples;
    if (r.length < ROUND_SAMPLES) r.push(rate);
    else r[this.roundSampleCount % ROUND_SAMPLES] = rate;
    this.roundSampleCount++;
    const sorted = [...r].sort((a, b) => a - b);
    // Startup takes the largest sample: it must grow by its gain per round, and overshoot is what drain is for.
    const q = this.mode === 'startup' ? 1 : BW_QUANTILE;
    this.bwByRound[this.rounds % BW_WINDOW_ROUNDS] = Math.max(this.roundReceiptMax, sorted[Math.floor((sorted.length - 1) * q)]);
    this.btlBw = Math.max(...this.bwByRound);
  }

  /**
   * Closes a round trip (timed by the receiver's RTT: the cumulative ACK can wait at a hole for several) and judges
   * its loss against what was sent, since the packets NAKed in a round were sent in it or the one before.
   */
  private endRound(now: number): void {
    const s = this.state;
    const roundSent = s.sentPackets - this.roundStartSent;
    const roundLost = s.nakLostPackets - this.roundStartLost;
    // A round that sent too little (the window stalled behind holes) is no sample of the loss rate.
    const judged = Math.max(roundSent, this.lastRoundSent);
    const lossShare = judged >= this.bdp() / 4 ? Math.min(1, roundLost / judged) : 0;
    const queueing = s.lastReportedRtt > QUEUE_RTT_FACTOR * this.minRtt + SYN_SLACK_US;
    // Loss while a queue stands is the queue overflowing: the next round drains instead of pacing at the estimate.
    if (queueing && roundLost > 0 && this.mode === 'probe-bw') this.standingQueueLoss = true;
    // Heavy loss is not random noise: scale the estimate down to what got through rather than forgetting it.
    // The round after a cut still reports what was sent before it, so a cut is not repeated at once; and the queue
    // that overflowed is drained before pacing at the new estimate.
    const cut = lossShare > HIGH_LOSS && this.mode === 'probe-bw' && !this.cutLastRound;
    if (cut) {
      for (let i = 0; i < BW_WINDOW_ROUNDS; i++) this.bwByRound[i] *= Math.max(MAX_CUT, 1 - lossShare);
      this.mode = 'drain';
    }
    this.cutLastRound = cut;
    if (this.mode === 'startup' && lossShare > STARTUP_LOSS_EXIT && roundLost >= 8 && queueing) this.enterDrain();
    this.rounds++;
    this.roundEnd = now + Math.max(this.minRtt === Infinity ? 0 : this.minRtt, this.roundTrip());
    this.lastRoundSent = roundSent;
    this.roundStartSent = s.sentPackets;
    this.roundStartLost = s.nakLostPackets;
    this.roundSamples.length = 0;
    this.roundReceiptMax = 0;
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
      } else if (++this.flatRounds >= (this.pipeFull || this.standingQueue ? STARTUP_FLAT_ROUNDS : 2 * STARTUP_FLAT_ROUNDS)) {
        // A plateau with no sign of a queue (arrivals slower than sends, a standing RTT) may be the measurement
        // failing rather than the pipe being full: it takes twice as long to believe.
        this.enterDrain();
      }
    }
    if (this.mode === 'drain' && this.onWire() <= this.bdp()) this.enterProbeBw();
    else if (this.mode === 'probe-bw' && newRound) this.cycle = (this.cycle + 1) % PROBE_GAINS.length;
    if (this.mode !== 'probe-rtt' && now - this.minRttStamp > MIN_RTT_WINDOW_US) {
      // A fixed time at half the BDP on the wire: the queue drains and the receiver's RTT shows the path's own.
      this.mode = 'probe-rtt';
      this.probeRttMin = Infinity;
      this.probeRttDoneAt = now + PROBE_RTT_US + (this.minRtt === Infinity ? 0 : this.minRtt);
    }
    if (this.mode === 'probe-rtt') {
      if (now >= this.probeRttDoneAt) {
        if (this.probeRttMin < Infinity) this.minRtt = this.probeRttMin;
        this.minRttStamp = now;
        if (this.reachedFullBw) this.enterProbeBw();
        else this.mode = 'startup';
      }
    }
  }

  private enterProbeBw(): void {
    this.mode = 'probe-bw';
    this.cycle = 2;
  }

  /** Packets the cumulative ACK still counts but the receiver has: those before the newest one known to have arrived. */
  private held(): number {
    const s = this.state;
    if (this.knownReceived < 0 || seqCmp(this.knownReceived, s.sndLastAck) <= 0) return 0;
    return seqOff(s.sndLastAck, this.knownReceived);
  }

  /** Packets the pipe holds: the sender's cumulative flight less those held behind loss holes. */
  private onWire(): number {
    return this.state.flightSize - this.held();
  }

  /** The current round has lost more of what was sent than random loss would. */
  private congested(): boolean {
    const s = this.state;
    const lost = s.nakLostPackets - this.roundStartLost;
    return lost >= MIN_CONGESTION_LOSSES && lost > CONGESTION_LOSS * Math.max(s.sentPackets - this.roundStartSent, this.lastRoundSent);
  }

  private applyModel(): void {
    const s = this.state;
    const m = this.mode;
    // Startup never paces below its initial window per RTT, whatever the first samples say.
    const floor = m === 'startup' ? (INITIAL_WINDOW * 1e6) / Math.max(1, s.rtt) : 0;
    const bw = Math.max(this.btlBw, floor);
    if (bw <= 0) return;
    let gain = m === 'startup' ? STARTUP_GAIN : m === 'drain' ? DRAIN_GAIN : m === 'probe-rtt' ? 1 : PROBE_GAINS[this.cycle];
    if (m === 'probe-bw' && this.standingQueue && gain >= 1) gain = QUEUE_DRAIN_GAIN;
    this.sendPeriod = (PAIR_SPACING * 1e6) / (gain * bw);
    const bdp = this.bdp(bw);
    const cwndGain = m === 'startup' && (this.pipeFull || this.flatRounds > 0) ? STARTUP_FULL_CWND_GAIN : CWND_GAIN;
    const target = m === 'probe-rtt' ? Math.max(PROBE_RTT_CWND, bdp / 2) : cwndGain * bdp + MIN_CWND;
    // The sender counts its cumulative flight against the window, so what sits behind loss holes is added back,
    // unless this round loses more than random loss explains: then holes keep the window shut, as congestion should.
    let held = this.congested() ? 0 : this.held();
    // While a hole is open the receiver repeats an unchanged ACK only once per RTT + 4 RTTVar or so, and no news of
    // what arrives behind the hole comes until then: in ProbeBW the window leaves room for the pacer meanwhile.
    if (held > 0 && m === 'probe-bw' && !this.standingQueue) held += ((s.rtt + 4 * s.rttVar + SYN_SLACK_US) * gain * bw) / 1e6;
    this.cwnd = target + Math.min(MAX_HOLE_ROOM * bdp, held);
  }

  /**
   * A receiver reports a gap as soon as the packet after it arrives, so that packet is known to have arrived. The
   * loss itself is read per round from CcState.nakLostPackets, where a range the receiver re-reports counts once.
   */
  onLoss(ranges: ReadonlyArray<readonly [number, number]>): void {
    for (const [, last] of ranges) this.noteReceived(seqInc(last));
    this.applyModel();
  }

  private noteReceived(seq: number): void {
    if (seqCmp(seq, this.state.sndCurr) > 0) return;
    if (this.knownReceived < 0 || seqCmp(seq, this.knownReceived) > 0) this.knownReceived = seq;
  }

  /** A retransmission time-out during recovery is expected under heavy loss: the model stays as it is. */
  onTimeout(): void {}
}
