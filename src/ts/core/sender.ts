// Sending half of a connection: paced (re)transmission, ACK/NAK processing, EXP go-back, TTL drops (spec §7).

import type { CcState, CongestionController } from './congestion/controller.js';
import { LossList } from './loss-list.js';
import { CtrlType, MSG_NO_MASK, nakRanges, writeDataHeader, writeEmptyControl, writeMsgDrop } from './packet.js';
import { RttEstimator } from './rtt.js';
import { SendBuffer } from './send-buffer.js';
import { seqCmp, seqDec, seqInc, seqOff } from './seq.js';
import type { ConnectionCounters } from './stats.js';
import { commitSlot, nextSlot, type TransmitBuffer } from './transmit.js';

const MAX_PENDING_ACK2 = 64;
/** Lost retransmissions of this many holes in a row (see onTimer) are taken for a burst loss. */
const HEAD_LOSS_BURST = 3;
const SYN_US = 10_000;
/** The queue of every sender with nothing queued since it was last trimmed (never written to). */
const NONE: number[] = [];

export interface SenderSetup {
  isn: number;
  mss: number;
  payloadSize: number;
  bufferPackets: number;
  /** The peer's handshake word 4: initial flow window and the CC's slow-start ceiling. */
  peerFlowWindow: number;
  maxBandwidth: number;
  controller: CongestionController;
  random: () => number;
}

export class Sender implements CcState {
  readonly buffer: SendBuffer;
  readonly loss = new LossList();
  readonly cc: CongestionController;
  readonly rttEstimator = new RttEstimator();
  readonly mss: number;
  readonly maxFlowWindow: number;
  /** Largest sequence number sent. */
  sndCurr: number;
  /** Latest ACK number (full or light). */
  sndLastAck: number;
  /** Latest ACK number that released data. */
  sndLastDataAck: number;
  flowWindow: number;
  recvRate = 16;
  /** RTT measured from our own send time of the packet just before the latest ACK number (µs, 0 = none yet). */
  lastRttSample = 0;
  /** The receiver's own RTT estimate from the latest full ACK (ACK→ACK2 based, so holes do not inflate it). */
  lastReportedRtt = 0;
  /** The receiver's packet arrival speed from the latest 24-byte ACK, before smoothing (0 when unknown). */
  lastArrivalRate = 0;
  bandwidth = 1;
  deliveredPackets = 0;
  /** Lateness the pacer may make up in a burst, µs (set by the endpoint per engine). */
  burstCreditUs = 2000;
  private nextSendTime = 0;
  /** Sequence numbers NAKs reported lost for the first time (re-reports of a range still missing do not count). */
  nakLostPackets = 0;
  /** Send time of the latest packet handed out (a pacing engine may still hold it). */
  private lastSendAt = 0;
  /** New data waits until this time, µs (0 = no hold); see holdNewData. */
  private holdUntil = 0;
  private period = 1;
  /** The last time a retransmission of the oldest hole was presumed lost, for which packet, and how many in a row. */
  private headLossAt = -Infinity;
  private headLossSeq = -1;
  private headLossStreak = 0;
  private pendingAck2 = NONE;
  private pendingDrops = NONE;
  private readonly minPeriod: number;
  readonly random: () => number;

  constructor(
    private readonly counters: ConnectionCounters,
    setup: SenderSetup,
  ) {
    this.mss = setup.mss;
    this.buffer = new SendBuffer(setup.payloadSize, setup.bufferPackets, setup.isn);
    this.sndCurr = seqDec(setup.isn);
    this.sndLastAck = setup.isn;
    this.sndLastDataAck = setup.isn;
    this.flowWindow = setup.peerFlowWindow;
    this.maxFlowWindow = setup.peerFlowWindow;
    this.minPeriod = setup.maxBandwidth > 0 ? (setup.mss * 1e6) / setup.maxBandwidth : 0;
    this.random = setup.random;
    this.cc = setup.controller;
  }

  /** Starts congestion control; call once the connection is established. */
  start(now: number): void {
    this.cc.init(this, now);
    this.applyCc();
    this.nextSendTime = now;
  }

  get rtt(): number {
    return this.rttEstimator.rtt;
  }

  get rttVar(): number {
    return this.rttEstimator.rttVar;
  }

  get sentPackets(): number {
    return this.counters.pktSent;
  }

  get flightSize(): number {
    return seqOff(this.sndLastAck, seqInc(this.sndCurr));
  }

  /** Current inter-packet interval after the bandwidth cap, µs. */
  get sendPeriod(): number {
    return this.period;
  }

  /** Packets unacknowledged or unsent. */
  get hasUnacked(): boolean {
    return this.buffer.packets > 0;
  }

  /** An ACK to `ackNo` would acknowledge nothing new while data waits for one. */
  isStaleAck(ackNo: number): boolean {
    return this.buffer.packets > 0 && seqCmp(ackNo, this.sndLastAck) <= 0;
  }

  /**
   * The flow window bounds everything unacknowledged (it is receive-buffer space); the congestion window only what
   * may still be on the wire, so packets already reported lost and waiting for retransmission do not count.
   */
  private windowOpen(): boolean {
    const flight = this.flightSize;
    return flight < this.flowWindow && flight - this.loss.size < Math.floor(this.cc.cwnd);
  }

  private hasDataToSend(): boolean {
    return this.loss.size > 0 || (this.buffer.unsentPackets > 0 && this.windowOpen());
  }

  /** Next time the sender needs to run (µs), or Infinity. */
  nextDeadline(): number {
    if (this.pendingAck2.length > 0 || this.pendingDrops.length > 0) return 0;
    return Math.min(this.hasDataToSend() ? Math.max(this.nextSendTime, this.holdUntil) : Infinity, this.headRetransmitDeadline());
  }

  /**
   * The receiver only ACKs progress, so while the oldest unacknowledged packet is a hole it stays silent about it.
   * When that packet was already retransmitted and an RTO has passed since, the retransmission is presumed lost.
   */
  private headRetransmitDeadline(): number {
    if (this.loss.size > 0 || this.flightSize === 0) return Infinity;
    const idx = this.buffer.indexOf(this.sndLastAck);
    if (idx < 0 || this.buffer.sentTimeAt(idx) >= 0 || this.buffer.isDropped(idx)) return Infinity;
    return this.buffer.lastTxAt(idx) + this.retransmitTimeout();
  }

  /** How long a retransmission may go unacknowledged before it is presumed lost. */
  private retransmitTimeout(): number {
    return this.rttEstimator.rtt + 4 * this.rttEstimator.rttVar + 2 * SYN_US;
  }

  /**
   * Runs the sender's own timer: re-queues a lost retransmission of the oldest hole. When that happens to several
   * holes in a row, each within two timeouts of the last, the retransmissions went into a burst loss (a receiver's
   * full socket buffer, say) and most of the others are lost too; a libudt receiver NAKs a gap only once, so rather
   * than one hole per ACK interval, every retransmission older than the timeout goes again at once.
   */
  onTimer(now: number): void {
    if (now < this.headRetransmitDeadline()) return;
    const rto = this.retransmitTimeout();
    const streak = this.headLossSeq !== this.sndLastAck && now - this.headLossAt <= 2 * rto;
    this.headLossStreak = streak ? this.headLossStreak + 1 : 1;
    this.headLossAt = now;
    this.headLossSeq = this.sndLastAck;
    let added = this.loss.insert(this.sndLastAck, this.sndLastAck);
    if (this.headLossStreak >= HEAD_LOSS_BURST) added += this.requeueRetransmissions(now - rto);
    this.counters.pktSndLoss += added;
    this.sendSoon(now);
  }

  /** Re-queues every unacknowledged packet beyond the oldest whose last retransmission went out before `before`. */
  private requeueRetransmissions(before: number): number {
    const b = this.buffer;
    let added = 0;
    let seq = this.sndLastAck;
    for (let n = this.flightSize - 1; n > 0; n--) {
      seq = seqInc(seq);
      const idx = b.indexOf(seq);
      if (idx < 0) break;
      if (b.sentTimeAt(idx) < 0 && !b.isDropped(idx) && b.lastTxAt(idx) <= before) added += this.loss.insert(seq, seq);
    }
    return added;
  }

  /**
   * Keeps the first data back until `until` or releaseNewData(): a libudt client discards data packets that arrive
   * before its connect() has finished with our handshake response (they are lost without a NAK).
   */
  holdNewData(until: number): void {
    this.holdUntil = until;
  }

  releaseNewData(): void {
    this.holdUntil = 0;
  }

  /** New data was queued: an idle pacer starts from now, not from a stale time. */
  onNewData(now: number, pacerWasIdle: boolean): void {
    if (!pacerWasIdle || this.loss.size > 0) return;
    // The pacer had nothing queued: this write is not part of a backlog, so its first packet goes out at once
    // instead of waiting out the rest of a period (for a request/response flow the period is the app's own rate,
    // measured while the app was the bottleneck). A backlog is still paced, and the window still applies.
    if (this.nextSendTime < now) this.nextSendTime = now;
    else this.sendSoon(now);
  }


  onFullAck(now: number, ackSeq: number, ackNo: number, rtt: number, avail: number, rate: number, cap: number): void {
    const c = this.counters;
    c.pktRecvACK++;
    if (this.pendingAck2 === NONE) this.pendingAck2 = [ackSeq];
    else if (this.pendingAck2.length < MAX_PENDING_ACK2) this.pendingAck2.push(ackSeq);
    if (seqCmp(ackNo, seqInc(this.sndCurr)) > 0) {
      c.ctrlIgnored++;
      return;
    }
    if (seqCmp(ackNo, this.sndLastAck) >= 0) {
      this.flowWindow = avail;
      this.sndLastAck = ackNo;
    }
    if (seqCmp(ackNo, this.sndLastDataAck) <= 0) return;
    this.deliveredPackets += seqOff(this.sndLastDataAck, ackNo);
    const newest = this.buffer.indexOf(seqDec(ackNo));
    if (newest >= 0 && this.buffer.sentTimeAt(newest) >= 0) this.lastRttSample = now - this.buffer.sentTimeAt(newest);
    this.buffer.ackTo(ackNo);
    this.loss.removeBefore(ackNo);
    this.sndLastDataAck = ackNo;
    if (rtt > 0) {
      this.lastReportedRtt = rtt;
      this.rttEstimator.update(rtt);
    }
    if (rate >= 0) this.lastArrivalRate = rate;
    if (rate > 0) this.recvRate = Math.floor((this.recvRate * 7 + rate) / 8);
    if (cap > 0) this.bandwidth = Math.floor((this.bandwidth * 7 + cap) / 8);
    this.cc.onAck(ackNo, now);
    this.applyCc();
  }

  onLightAck(ackNo: number): void {
    this.counters.pktRecvLightACK++;
    if (seqCmp(ackNo, this.sndLastAck) < 0 || seqCmp(ackNo, seqInc(this.sndCurr)) > 0) return;
    this.flowWindow -= seqOff(this.sndLastAck, ackNo);
    this.sndLastAck = ackNo;
  }

  onNak(now: number, entries: ReadonlyArray<number>): void {
    const c = this.counters;
    c.pktRecvNAK++;
    const ranges = nakRanges(entries);
    if (!ranges) {
      c.ctrlIgnored++;
      return;
    }
    const valid: Array<[number, number]> = [];
    for (const [a, b] of ranges) {
      if (seqCmp(a, b) > 0 || seqCmp(b, this.sndCurr) > 0) {
        c.ctrlIgnored++;
        continue;
      }
      valid.push([a, b]);
      if (seqCmp(b, this.sndLastAck) < 0) continue;
      const added = this.loss.insert(seqCmp(a, this.sndLastAck) < 0 ? this.sndLastAck : a, b);
      c.pktSndLoss += added;
      this.nakLostPackets += added;
    }
    if (valid.length === 0) return;
    this.cc.onLoss(valid, now);
    this.applyCc();
    this.sendSoon(now);
  }

  /** The EXP timer fired. Returns false when nothing is outstanding (the caller sends a keep-alive). */
  onExpTimeout(now: number): boolean {
    if (this.buffer.packets === 0) return false;
    if (this.flightSize > 0 && this.loss.size === 0) {
      this.counters.pktSndLoss += this.loss.insert(this.sndLastAck, this.sndCurr);
    }
    this.counters.expTimeouts++;
    this.cc.onTimeout(now);
    this.applyCc();
    this.sendSoon(now);
    return true;
  }

  /**
   * Lets the next packet go at once, but never ahead of packets already handed to a pacing engine: going back
   * before them would send new sequence numbers first, and the receiver would NAK the reordering as loss.
   */
  private sendSoon(now: number): void {
    const t = Math.max(now, this.lastSendAt);
    if (this.nextSendTime > t) this.nextSendTime = t;
  }

  /** A congestion warning: slow down by 1/8 (the next CC update overrides it, as in libudt). */
  onCongestionWarning(): void {
    this.period = Math.ceil(this.period * 1.125);
  }

  private applyCc(): void {
    this.period = Math.max(this.cc.sendPeriod, this.minPeriod);
  }

  /** The connection went idle: give back what holds nothing. */
  trim(): void {
    if (this.pendingAck2.length === 0) this.pendingAck2 = NONE;
    if (this.pendingDrops.length === 0) this.pendingDrops = NONE;
    this.loss.trim();
    this.buffer.trim();
  }

  /** Writes pending ACK2s and message-drop requests. */
  pollControl(out: TransmitBuffer, dst: number): void {
    let i = 0;
    for (; i < this.pendingAck2.length && out.count < out.capacity; i++) {
      commitSlot(out, writeEmptyControl(out.buf, nextSlot(out), CtrlType.Ack2, this.pendingAck2[i], dst), 0);
      this.counters.pktSentACK2++;
    }
    if (i > 0) this.pendingAck2.splice(0, i);
    let d = 0;
    for (; d < this.pendingDrops.length && out.count < out.capacity; d += 3) {
      const [msgNo, first, last] = [this.pendingDrops[d], this.pendingDrops[d + 1], this.pendingDrops[d + 2]];
      commitSlot(out, writeMsgDrop(out.buf, nextSlot(out), dst, msgNo, first, last), 0);
      this.counters.pktSentDrop++;
    }
    if (d > 0) this.pendingDrops.splice(0, d);
  }

  /** Writes data packets due by now + horizon, paced by the CC period. `ts` = µs since the connection began. */
  pollData(now: number, horizon: number, out: TransmitBuffer, dst: number, ts: number): void {
    const limit = now + horizon;
    if (this.holdUntil > 0) {
      if (this.holdUntil > limit) return;
      if (this.nextSendTime < this.holdUntil) this.nextSendTime = this.holdUntil;
      this.holdUntil = 0;
    }
    if (this.nextSendTime < now - this.burstCreditUs) this.nextSendTime = now - this.burstCreditUs;
    const c = this.counters;
    while (out.count < out.capacity && this.nextSendTime <= limit) {
      let seq: number;
      let retrans = false;
      let idx: number;
      if (this.loss.size > 0) {
        seq = this.loss.popFirst();
        idx = this.buffer.indexOf(seq);
        if (idx < 0) continue;
        if (this.buffer.isDropped(idx) || this.buffer.deadlineAt(idx) <= now) {
          this.dropMessage(seq, idx);
          continue;
        }
        retrans = true;
      } else {
        if (!this.windowOpen()) break;
        seq = this.buffer.takeNew();
        if (seq < 0) break;
        idx = this.buffer.indexOf(seq);
        this.sndCurr = seq;
        if (this.buffer.deadlineAt(idx) <= now) {
          this.dropMessage(seq, idx);
          continue;
        }
      }
      const at = nextSlot(out);
      writeDataHeader(out.buf, at, seq, this.buffer.msgWordAt(idx), ts, dst);
      const len = this.buffer.copyPayload(idx, out.buf, at + 16);
      const sendAt = this.nextSendTime > now ? this.nextSendTime : now;
      this.buffer.noteSent(idx, sendAt, retrans);
      // Always the real time, never 0: a pacing engine turns 0 into its own (later) commit time, which could put
      // this packet after a following one scheduled between our `now` and that commit.
      commitSlot(out, 16 + len, sendAt);
      this.lastSendAt = sendAt;
      c.pktSent++;
      if (retrans) {
        c.pktRetrans++;
        c.bytesRetrans += len;
      } else {
        c.bytesSent += len;
      }
      if (this.cc.onPacketSent) this.cc.onPacketSent(seq, now, retrans);
      if ((seq & 0xf) !== 0) this.nextSendTime += this.period;
    }
  }

  /** Drops the (expired) message holding `seq` and queues a message-drop request for its exact range. */
  private dropMessage(seq: number, idx: number): void {
    const [first, last] = this.buffer.messageBounds(seq);
    const wasDropped = this.buffer.isDropped(idx);
    const top = this.buffer.dropRange(first, last);
    if (seqCmp(top, this.sndCurr) > 0) this.sndCurr = top;
    this.loss.removeRange(first, last);
    if (!wasDropped) this.counters.msgSendDropped++;
    if (this.pendingDrops === NONE) this.pendingDrops = [];
    this.pendingDrops.push(this.buffer.msgWordAt(idx) & MSG_NO_MASK, first, last);
  }
}
