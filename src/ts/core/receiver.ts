// Receiving half of a connection: data acceptance, loss detection, NAKs, full and light ACKs, ACK2 RTT (spec §6).

import { ArrivalSpeed, LinkCapacity } from './estimators.js';
import { LossList } from './loss-list.js';
import { NAK_RANGE_BIT, writeAck, writeLightAck, writeNak } from './packet.js';
import { InsertResult, RecvBuffer } from './recv-buffer.js';
import { RttEstimator } from './rtt.js';
import { ackSeqInc, seqCmp, seqDec, seqInc, seqLen, seqOff } from './seq.js';
import type { SlotPool } from './slot-pool.js';
import type { ConnectionCounters } from './stats.js';
import { commitSlot, nextSlot, type TransmitBuffer } from './transmit.js';

/** Full-ACK period and rate-report spacing (SYN), µs. */
export const SYN = 10_000;
const LIGHT_ACK_EVERY = 64;
const SHORT_PACKET_ACK_DELAY_US = 1000;
const ACK_WINDOW = 256;
const MAX_PENDING_GAPS = 4096;
/** The gap queue of every receiver with none queued since it was last trimmed (never written to). */
const NONE: number[] = [];

export class Receiver {
  readonly buffer: RecvBuffer;
  readonly rtt = new RttEstimator();
  /** Largest sequence number received. */
  rcvCurr: number;
  /** Last ACK number sent in a full ACK. */
  rcvLastAck: number;
  /** Largest ACK number confirmed by an ACK2. */
  rcvLastAckAck: number;
  private readonly loss = new LossList();
  private readonly arrival = new ArrivalSpeed();
  private readonly capacity = new LinkCapacity();
  private ackSeq = 0;
  private lastAck24Time = -Infinity;
  private nextAckTime = Infinity;
  private lightAckDue = false;
  private lightAckAt = Infinity;
  private pktsSinceAck = 0;
  private nextNakTime = Infinity;
  private pendingGaps = NONE;
  private ackWinSeq: Int32Array | null = null;
  private ackWinNo: Int32Array | null = null;
  private ackWinTime: Float64Array | null = null;
  private readonly maxNakEntries: number;

  constructor(
    private readonly counters: ConnectionCounters,
    readonly payloadSize: number,
    bufferPackets: number,
    peerIsn: number,
    messageMode: boolean,
    pool: SlotPool | null,
    private readonly periodicNak: boolean,
  ) {
    this.buffer = new RecvBuffer(bufferPackets, peerIsn, messageMode, pool, payloadSize);
    this.rcvCurr = seqDec(peerIsn);
    this.rcvLastAck = peerIsn;
    this.rcvLastAckAck = peerIsn;
    this.maxNakEntries = Math.max(2, Math.floor(payloadSize / 4) & ~1);
  }

  /** The ACK number: first sequence number not received in order. */
  ackNumber(): number {
    return this.loss.size > 0 ? this.loss.first() : seqInc(this.rcvCurr);
  }

  get lossCount(): number {
    return this.loss.size;
  }

  /** Free receive buffer in packets as advertised in ACK word 3 (never below 2). */
  available(): number {
    const held = Math.max(0, seqOff(this.buffer.readSeq, this.rcvLastAck));
    return Math.max(2, this.buffer.maxPackets - 1 - held);
  }

  /** Handles a data packet (`arrival`: its own receive time, for the estimators); returns true when it was new data. */
  onData(now: number, seq: number, msgw: number, src: Uint8Array, off: number, len: number, owned: boolean, arrival = now): boolean {
    const c = this.counters;
    c.pktRecv++;
    this.arrival.onArrival(arrival);
    this.capacity.onArrival(seq, arrival);
    const r = this.buffer.insert(seq, src, off, len, msgw, owned);
    if (r !== InsertResult.Accepted) {
      if (r === InsertResult.Duplicate) c.pktRecvDup++;
      else c.pktRecvBeyondWindow++;
      return false;
    }
    c.bytesRecv += len;
    const expected = seqInc(this.rcvCurr);
    if (seqCmp(seq, expected) > 0) {
      const last = seqDec(seq);
      this.loss.insert(expected, last, now);
      c.pktRcvLoss += seqLen(expected, last);
      if (this.pendingGaps === NONE) this.pendingGaps = [expected, last];
      else if (this.pendingGaps.length < MAX_PENDING_GAPS) this.pendingGaps.push(expected, last);
      if (this.periodicNak && this.nextNakTime === Infinity) this.nextNakTime = now + this.nakInterval();
    }
    // A short packet usually ends a write: tell the sender soon, with a light ACK (no ACK2 round). libudt sends a
    // full ACK at once; we wait until the short packets pause for SHORT_PACKET_ACK_DELAY_US, so a request/response
    // flow acks a whole run of replies with one datagram (every datagram on loopback costs a syscall and a wake-up
    // on both ends, and one arriving just before a reply delays it); the 64-packet light ACK and the 10 ms full ACK
    // still come while the run lasts.
    if (len !== this.payloadSize) this.lightAckAt = now + SHORT_PACKET_ACK_DELAY_US;
    if (seqCmp(seq, this.rcvCurr) > 0) this.rcvCurr = seq;
    else this.loss.remove(seq);
    if (++this.pktsSinceAck % LIGHT_ACK_EVERY === 0) this.lightAckDue = true;
    if (this.nextAckTime === Infinity) this.nextAckTime = now + SYN;
    return true;
  }

  /** A message-drop request: forget the range, and skip over it if it joins the received data. */
  onMsgDrop(first: number, last: number, msgNo: number): void {
    if (seqCmp(first, last) > 0 || seqOff(this.rcvLastAck, last) < 0) return;
    // Only the part inside the receive window can be marked; the rest is NAKed later and the sender drops it again.
    const windowEnd = seqInc(this.buffer.readSeq, this.buffer.maxPackets - 2);
    if (seqCmp(last, windowEnd) > 0) last = windowEnd;
    if (seqCmp(first, last) > 0) return;
    this.buffer.markDropped(first, last, msgNo);
    this.loss.removeRange(first, last);
    if (seqCmp(first, seqInc(this.rcvCurr)) <= 0 && seqCmp(last, this.rcvCurr) > 0) this.rcvCurr = last;
    if (this.nextAckTime === Infinity) this.nextAckTime = 0;
  }

  onAck2(now: number, ackSeq: number): void {
    const win = this.ackWinSeq;
    if (!win) return;
    const i = ackSeq % ACK_WINDOW;
    if (win[i] !== ackSeq) return;
    const rtt = now - this.ackWinTime![i];
    const ackNo = this.ackWinNo![i];
    win[i] = -1;
    if (rtt > 0) this.rtt.update(Math.round(rtt));
    if (seqCmp(ackNo, this.rcvLastAckAck) > 0) this.rcvLastAckAck = ackNo;
    if (this.ackNumber() === this.rcvLastAckAck) this.nextAckTime = Infinity;
  }

  /** The app read data: a window update may be worth an ACK soon. */
  onAppRead(): void {
    if (this.nextAckTime === Infinity) this.nextAckTime = 0;
  }

  /**
   * The connection went idle (nothing sent for a keep-alive interval): give back what holds nothing. The ACK window
   * goes once every ACK is confirmed (an ACK2 for an older one could only be a duplicate of a confirmed one's).
   */
  trim(): void {
    if (this.pendingGaps.length === 0) this.pendingGaps = NONE;
    if (this.ackWinSeq && this.ackNumber() === this.rcvLastAckAck) this.ackWinSeq = this.ackWinNo = this.ackWinTime = null;
    this.loss.trim();
    this.buffer.trim();
  }

  /** Next time a receiver timer needs attention (µs), or Infinity. */
  nextDeadline(): number {
    if (this.lightAckDue || this.pendingGaps.length > 0) return 0;
    return Math.min(this.nextAckTime, this.nextNakTime, this.lightAckAt);
  }

  /** Before our SHUTDOWN: a full ACK for whatever arrived since the last one (nothing if it is already ACKed). */
  pollFinalAck(now: number, out: TransmitBuffer, dst: number): void {
    if (seqCmp(this.ackNumber(), this.rcvLastAck) > 0) this.sendFullAck(now, out, dst);
  }

  /** Writes due ACKs and NAKs into `out`. */
  pollControl(now: number, out: TransmitBuffer, dst: number): void {
    let g = 0;
    for (; g < this.pendingGaps.length && out.count < out.capacity; g += 2) {
      const a = this.pendingGaps[g];
      const b = this.pendingGaps[g + 1];
      const entries = a === b ? [a] : [(a | NAK_RANGE_BIT) >>> 0, b];
      commitSlot(out, writeNak(out.buf, nextSlot(out), dst, entries, entries.length), 0);
      this.counters.pktSentNAK++;
    }
    if (g > 0) this.pendingGaps.splice(0, g);
    if (out.count >= out.capacity) return;
    if (now >= this.nextAckTime && this.sendFullAck(now, out, dst)) {
      this.lightAckDue = false;
      this.lightAckAt = Infinity;
    } else if (this.lightAckDue || now >= this.lightAckAt) {
      this.lightAckDue = false;
      this.lightAckAt = Infinity;
      const ack = this.ackNumber();
      if (ack !== this.rcvLastAckAck && out.count < out.capacity) {
        commitSlot(out, writeLightAck(out.buf, nextSlot(out), dst, ack), 0);
        this.counters.pktSentLightACK++;
      }
    }
    if (now >= this.nextNakTime && out.count < out.capacity) this.periodicNakPass(now, out, dst);
  }

  /** Returns whether the ACK timer fired (whether or not a packet was needed). */
  private sendFullAck(now: number, out: TransmitBuffer, dst: number): boolean {
    if (out.count >= out.capacity) return false;
    this.nextAckTime = now + SYN;
    this.pktsSinceAck = 0;
    const ack = this.ackNumber();
    if (ack === this.rcvLastAckAck) {
      this.nextAckTime = Infinity;
      return true;
    }
    const cmp = seqCmp(ack, this.rcvLastAck);
    if (cmp > 0) this.rcvLastAck = ack;
    else if (cmp < 0 || now - this.lastAck24Time < this.rtt.rtt + 4 * this.rtt.rttVar) return true;
    if (seqCmp(this.rcvLastAck, this.rcvLastAckAck) <= 0) return true;
    this.ackSeq = ackSeqInc(this.ackSeq);
    const withRates = now - this.lastAck24Time > SYN;
    const len = writeAck(
      out.buf,
      nextSlot(out),
      dst,
      this.ackSeq,
      this.rcvLastAck,
      this.rtt.rtt,
      this.rtt.rttVar,
      this.available(),
      withRates ? this.arrival.speed() : -1,
      withRates ? this.capacity.capacity() : -1,
    );
    commitSlot(out, len, 0);
    if (withRates) this.lastAck24Time = now;
    this.rememberAck(this.ackSeq, this.rcvLastAck, now);
    this.counters.pktSentACK++;
    return true;
  }

  private rememberAck(ackSeq: number, ackNo: number, now: number): void {
    if (!this.ackWinSeq) {
      this.ackWinSeq = new Int32Array(ACK_WINDOW).fill(-1);
      this.ackWinNo = new Int32Array(ACK_WINDOW);
      this.ackWinTime = new Float64Array(ACK_WINDOW);
    }
    const i = ackSeq % ACK_WINDOW;
    this.ackWinSeq[i] = ackSeq;
    this.ackWinNo![i] = ackNo;
    this.ackWinTime![i] = now;
  }

  private nakInterval(): number {
    return 2 * (this.rtt.rtt + 4 * this.rtt.rttVar) + SYN;
  }

  /** Re-reports ranges still missing whose last report is older than the NAK interval. */
  private periodicNakPass(now: number, out: TransmitBuffer, dst: number): void {
    const interval = this.nakInterval();
    this.nextNakTime = this.loss.size > 0 ? now + interval / 2 : Infinity;
    const entries: number[] = [];
    const lastData = seqInc(this.rcvCurr);
    for (let i = 0; i < this.loss.rangeCount && entries.length + 2 <= this.maxNakEntries; i++) {
      if (now - this.loss.rangeStamp(i) < interval) continue;
      const a = this.loss.rangeStart(i);
      const b = this.loss.rangeEnd(i);
      if (seqCmp(b, lastData) >= 0) continue;
      if (a === b) entries.push(a);
      else entries.push((a | NAK_RANGE_BIT) >>> 0, b);
      this.loss.setRangeStamp(i, now);
    }
    if (entries.length === 0) return;
    commitSlot(out, writeNak(out.buf, nextSlot(out), dst, entries, entries.length), 0);
    this.counters.pktSentNAK++;
  }
}
