// Sender's packet store: app data cut into sequence-numbered packets, kept until acknowledged (a growable ring).

import { copyBytes } from './bytes.js';
import { Boundary, MSG_BOUNDARY_SHIFT, MSG_NO_MASK, msgWord } from './packet.js';
import { EMPTY_F64, EMPTY_I32, EMPTY_REFS, EMPTY_U8, nextPow2, relayColumn, type RingColumn } from './ring.js';
import { msgInc, seqInc, seqOff } from './seq.js';

const STAGED = 1;
const COALESCE = 2;
const DROPPED = 4;
const MIN_CAP = 16;
const SHRINK_ABOVE = 256;

export class SendBuffer {
  /** Sequence number of the oldest packet held (everything before it is acknowledged). */
  headSeq: number;
  /** Payload bytes held, sent or not. */
  bufferedBytes = 0;
  private cap = 0;
  private mask = -1;
  private head = 0;
  private count = 0;
  private sent = 0;
  private nextMsgNo = 1;
  private chunks = EMPTY_REFS;
  private offs = EMPTY_I32;
  private lens = EMPTY_I32;
  private msgws = EMPTY_I32;
  private flags = EMPTY_U8;
  private deadlines = EMPTY_F64;
  private sentTimes = EMPTY_F64;
  private lastTxTimes = EMPTY_F64;

  constructor(
    readonly payloadSize: number,
    readonly maxPackets: number,
    isn: number,
  ) {
    this.headSeq = isn;
  }

  /** Packets held (in flight plus not yet sent). */
  get packets(): number {
    return this.count;
  }

  get unsentPackets(): number {
    return this.count - this.sent;
  }

  get freePackets(): number {
    return this.maxPackets - this.count;
  }

  /** Accepts as much of a stream write as fits; returns the bytes taken. */
  writeStream(data: Uint8Array): number {
    const n = data.length;
    let pos = 0;
    if (n === 0) return 0;
    if (this.count > this.sent) pos = this.appendToLast(data);
    if (pos === n) return n;
    const msgNo = this.takeMsgNo();
    const first = pos;
    while (pos < n && this.count < this.maxPackets) {
      const len = Math.min(this.payloadSize, n - pos);
      const boundary = (pos === first ? Boundary.First : 0) | (pos + len === n ? Boundary.Last : 0);
      this.push(data, pos, len, msgWord(boundary, false, msgNo), Infinity, len < this.payloadSize ? COALESCE : 0);
      pos += len;
    }
    return pos;
  }

  /** Queues a whole message, or returns false when it does not fit right now. */
  writeMessage(data: Uint8Array, deadline: number, inOrder: boolean): boolean {
    const n = data.length;
    const packets = Math.max(1, Math.ceil(n / this.payloadSize));
    if (this.count + packets > this.maxPackets) return false;
    const msgNo = this.takeMsgNo();
    for (let i = 0, pos = 0; i < packets; i++, pos += this.payloadSize) {
      const boundary = (i === 0 ? Boundary.First : 0) | (i === packets - 1 ? Boundary.Last : 0);
      this.push(data, pos, Math.min(this.payloadSize, n - pos), msgWord(boundary, inOrder, msgNo), deadline, 0);
    }
    return true;
  }

  /** Sequence number for the next never-sent packet (and marks it sent), or -1. */
  takeNew(): number {
    if (this.sent >= this.count) return -1;
    return seqInc(this.headSeq, this.sent++);
  }

  /** Ring index of a held, already-sent packet, or -1. */
  indexOf(seq: number): number {
    const off = seqOff(this.headSeq, seq);
    if (off < 0 || off >= this.sent) return -1;
    return (this.head + off) & this.mask;
  }

  payloadLength(idx: number): number {
    return this.lens[idx];
  }

  msgWordAt(idx: number): number {
    return this.msgws[idx] >>> 0;
  }

  deadlineAt(idx: number): number {
    return this.deadlines[idx];
  }

  /** Records a transmission; a retransmitted packet no longer gives an unambiguous RTT sample. */
  noteSent(idx: number, now: number, retransmission: boolean): void {
    this.sentTimes[idx] = retransmission ? -1 : now;
    this.lastTxTimes[idx] = now;
  }

  /** When the packet was last (re)transmitted. */
  lastTxAt(idx: number): number {
    return this.lastTxTimes[idx];
  }

  /** When the packet was first sent, or -1 if it has been retransmitted since. */
  sentTimeAt(idx: number): number {
    return this.sentTimes[idx];
  }

  isDropped(idx: number): boolean {
    return (this.flags[idx] & DROPPED) !== 0;
  }

  copyPayload(idx: number, dst: Uint8Array, dstOff: number): number {
    const len = this.lens[idx];
    copyBytes(this.chunks[idx]!, this.offs[idx], len, dst, dstOff);
    return len;
  }

  /** Releases every packet before `ackNo`; returns how many were released. */
  ackTo(ackNo: number): number {
    let n = seqOff(this.headSeq, ackNo);
    if (n <= 0) return 0;
    if (n > this.sent) n = this.sent;
    for (let i = 0; i < n; i++) {
      const idx = (this.head + i) & this.mask;
      this.bufferedBytes -= this.lens[idx];
      this.chunks[idx] = null;
    }
    this.head = (this.head + n) & this.mask;
    this.count -= n;
    this.sent -= n;
    this.headSeq = seqInc(this.headSeq, n);
    if (this.count === 0 && this.cap > SHRINK_ABOVE) this.resize(0);
    return n;
  }

  /** Gives back the ring when nothing is held (an idle connection keeps none). */
  trim(): void {
    if (this.count === 0 && this.cap > 0) this.resize(0);
  }

  /** First and last sequence numbers (held) of the message containing `seq`. */
  messageBounds(seq: number): [number, number] {
    const off = seqOff(this.headSeq, seq);
    let lo = off;
    while (lo > 0 && !(this.boundaryAt(lo) & Boundary.First)) lo--;
    let hi = off;
    while (hi < this.count - 1 && !(this.boundaryAt(hi) & Boundary.Last)) hi++;
    return [seqInc(this.headSeq, lo), seqInc(this.headSeq, hi)];
  }

  /** Marks [first, last] dropped; never-sent packets in it count as sent. Returns the highest now-sent seq. */
  dropRange(first: number, last: number): number {
    const lo = seqOff(this.headSeq, first);
    const hi = seqOff(this.headSeq, last);
    for (let off = Math.max(0, lo); off <= hi && off < this.count; off++) {
      this.flags[(this.head + off) & this.mask] |= DROPPED;
    }
    if (hi + 1 > this.sent) this.sent = Math.min(this.count, hi + 1);
    return seqInc(this.headSeq, this.sent - 1);
  }

  private boundaryAt(off: number): number {
    return (this.msgws[(this.head + off) & this.mask] >>> MSG_BOUNDARY_SHIFT) & 3;
  }

  private takeMsgNo(): number {
    const m = this.nextMsgNo;
    this.nextMsgNo = msgInc(m);
    return m;
  }

  /** Fills the unsent last packet of a stream (copying into a private staging slot); returns bytes taken. */
  private appendToLast(data: Uint8Array): number {
    const idx = (this.head + this.count - 1) & this.mask;
    const have = this.lens[idx];
    if (!(this.flags[idx] & COALESCE) || have >= this.payloadSize) return 0;
    const take = Math.min(this.payloadSize - have, data.length);
    if (!(this.flags[idx] & STAGED)) {
      const staging = new Uint8Array(this.payloadSize);
      copyBytes(this.chunks[idx]!, this.offs[idx], have, staging, 0);
      this.chunks[idx] = staging;
      this.offs[idx] = 0;
      this.flags[idx] |= STAGED;
    }
    copyBytes(data, 0, take, this.chunks[idx]!, have);
    this.lens[idx] = have + take;
    this.bufferedBytes += take;
    this.msgws[idx] = msgWord(Boundary.Solo, false, this.msgws[idx] & MSG_NO_MASK);
    return take;
  }

  private push(chunk: Uint8Array, off: number, len: number, msgw: number, deadline: number, flags: number): void {
    if (this.count === this.cap) this.resize(Math.min(Math.max(MIN_CAP, this.cap * 2), nextPow2(this.maxPackets)));
    const idx = (this.head + this.count) & this.mask;
    this.chunks[idx] = chunk;
    this.offs[idx] = off;
    this.lens[idx] = len;
    this.msgws[idx] = msgw | 0;
    this.flags[idx] = flags;
    this.deadlines[idx] = deadline;
    this.count++;
    this.bufferedBytes += len;
  }

  private resize(newCap: number): void {
    const relay = <T extends RingColumn>(col: T) => relayColumn(col, this.head, this.mask, this.count, newCap);
    this.chunks = relay(this.chunks);
    this.offs = relay(this.offs);
    this.lens = relay(this.lens);
    this.msgws = relay(this.msgws);
    this.flags = relay(this.flags);
    this.deadlines = relay(this.deadlines);
    this.sentTimes = relay(this.sentTimes);
    this.lastTxTimes = relay(this.lastTxTimes);
    this.cap = newCap;
    this.mask = newCap - 1;
    this.head = 0;
  }
}
