// Receiver's packet store: slots by sequence number until the app reads them, as bytes or as whole messages.

import { allocBytes, copyBytes } from './bytes.js';
import { Boundary, MSG_BOUNDARY_SHIFT, MSG_INORDER_BIT, MSG_NO_MASK } from './packet.js';
import { MSG_MAX, msgInc, seqCmp, seqInc, seqOff } from './seq.js';
import { EMPTY_I32, EMPTY_REFS, EMPTY_U8, nextPow2, relayColumn, type RingColumn } from './ring.js';
import type { SlotPool } from './slot-pool.js';

const EMPTY = 0;
const FILLED = 1;
const DROPPED = 2;
const CONSUMED = 3;
const MIN_CAP = 16;
/** slotIds value of a packet whose payload lives in the stream chunk (not in a pool slot). */
const IN_CHUNK = -2;
/**
 * Full packets per stream chunk: the first chunk after an idle spell holds FIRST_CHUNK_PACKETS, each next one twice
 * as many, up to MAX_CHUNK_PACKETS. A short exchange then never takes (and, once freed, leaves malloc holding) a
 * chunk sized for bulk transfer.
 */
const FIRST_CHUNK_PACKETS = 2;
const MAX_CHUNK_PACKETS = 64;
/** Message numbers the head may skip at once and still be reported dropped (a larger jump is not a drop). */
const MAX_SKIPPED_REPORT = 1024;
/** The list of every buffer with none of its own (never written to). */
const NONE: number[] = [];

export const InsertResult = { Accepted: 0, Duplicate: 1, OutOfWindow: 2 } as const;

export interface ReceivedMessage {
  data: Uint8Array;
  msgNo: number;
  inOrder: boolean;
}

export class RecvBuffer {
  /** Next sequence number the application will get. */
  readSeq: number;
  /** First sequence number at or after readSeq that has not arrived (nor been dropped). */
  contigSeq: number;
  /** Stream mode: bytes ready to read in order. */
  readableBytes = 0;
  /** Message numbers dropped (TTL or incomplete), in the order the reader passed them; drained by the connection. */
  droppedMsgNos = NONE;
  private highest: number;
  private cap = 0;
  private mask = -1;
  private head = 0;
  private occupied = 0;
  private readOffset = 0;
  private lastDroppedMsgNo = -1;
  private lastHeadMsgNo = -1;
  private ready = NONE;
  private bufs = EMPTY_REFS;
  private offs = EMPTY_I32;
  private lens = EMPTY_I32;
  private msgws = EMPTY_I32;
  private states = EMPTY_U8;
  private slotIds = EMPTY_I32;
  /**
   * Stream mode: full packets arriving in order are copied once, one after another, into this chunk, and reads hand
   * out views of it (no second copy). Bytes once handed out are never written again.
   */
  private chunk: Uint8Array | null = null;
  private chunkPos = 0;
  private chunkPackets = FIRST_CHUNK_PACKETS;

  constructor(
    readonly maxPackets: number,
    isn: number,
    readonly messageMode: boolean,
    private readonly pool: SlotPool | null,
    /** Payload bytes of a full packet (stream chunks hold whole ones); 0 = no chunks. */
    private readonly fullPayload = 0,
  ) {
    this.readSeq = isn;
    this.contigSeq = isn;
    this.highest = isn;
  }

  /** Slots in use between readSeq and the highest packet held. */
  get occupiedSlots(): number {
    return this.occupied;
  }

  /** Whether `seq` is within the window the buffer can hold. */
  fits(seq: number): boolean {
    const d = seqOff(this.readSeq, seq);
    return d >= 0 && d < this.maxPackets - 1;
  }

  insert(seq: number, src: Uint8Array, off: number, len: number, msgw: number, owned: boolean): number {
    const d = seqOff(this.readSeq, seq);
    if (d < 0) return InsertResult.Duplicate;
    if (d >= this.maxPackets - 1) return InsertResult.OutOfWindow;
    if (d >= this.cap) this.resize(Math.min(nextPow2(d + 1), nextPow2(this.maxPackets)));
    const idx = (this.head + d) & this.mask;
    const st = this.states[idx];
    if (st === FILLED || st === CONSUMED) return InsertResult.Duplicate;
    if (st === DROPPED) {
      // A drop request may cover one packet past its message (quirk Q6); a packet of another message may fill it.
      if (((this.msgws[idx] ^ msgw) & MSG_NO_MASK) === 0) return InsertResult.Duplicate;
    } else {
      this.occupied++;
    }
    if (seq === this.contigSeq && len === this.fullPayload && !this.messageMode) {
      const chunk = this.chunkWithRoom(len);
      copyBytes(src, off, len, chunk, this.chunkPos);
      this.bufs[idx] = chunk;
      this.offs[idx] = this.chunkPos;
      this.slotIds[idx] = IN_CHUNK;
      this.chunkPos += len;
    } else if (owned || !this.pool) {
      this.bufs[idx] = owned ? src : src.slice(off, off + len);
      this.offs[idx] = owned ? off : 0;
      this.slotIds[idx] = -1;
    } else {
      const id = this.pool.take();
      const view = this.pool.view(id);
      copyBytes(src, off, len, view, 0);
      this.bufs[idx] = view;
      this.offs[idx] = 0;
      this.slotIds[idx] = id;
    }
    this.lens[idx] = len;
    this.msgws[idx] = msgw | 0;
    this.states[idx] = FILLED;
    const behind = seqCmp(seq, this.highest) < 0;
    if (!behind) this.highest = seq;
    if (seq === this.contigSeq) this.advanceContig();
    if (this.messageMode && !(msgw & MSG_INORDER_BIT) && (behind || (msgw >>> MSG_BOUNDARY_SHIFT) & Boundary.Last)) {
      this.noteIfComplete(d);
    }
    return InsertResult.Accepted;
  }

  /**
   * Marks a message's packets in [first, last] dropped: empty slots, and held packets of that message.
   * Returns how many slots changed.
   */
  markDropped(first: number, last: number, msgNo: number): number {
    let changed = 0;
    const lo = Math.max(0, seqOff(this.readSeq, first));
    const hi = Math.min(seqOff(this.readSeq, last), this.maxPackets - 2);
    if (hi >= this.cap) this.resize(Math.min(nextPow2(hi + 1), nextPow2(this.maxPackets)));
    for (let d = lo; d <= hi; d++) {
      const idx = (this.head + d) & this.mask;
      const st = this.states[idx];
      const same = (this.msgws[idx] & MSG_NO_MASK) === msgNo;
      if (st === EMPTY || (st === FILLED && same)) {
        if (st === EMPTY) this.occupied++;
        else this.freeSlot(idx);
        this.states[idx] = DROPPED;
        this.msgws[idx] = msgNo;
        changed++;
      }
    }
    if (changed) {
      const top = seqInc(this.readSeq, hi);
      if (seqCmp(top, this.highest) > 0) this.highest = top;
      this.advanceContig();
    }
    return changed;
  }

  /**
   * Stream mode: up to `max` bytes in order, or null when none are ready. May return fewer than are ready (a view of
   * one chunk run); read again for the rest.
   */
  readStream(max = Infinity): Uint8Array | null {
    if (this.readableBytes === 0 || max <= 0) return null;
    const total = Math.min(max, this.readableBytes);
    const out = this.slotIds[this.head] === IN_CHUNK ? this.readChunkRun(total) : this.readCopy(total);
    this.readableBytes -= out.length;
    return out;
  }

  /** A view of the chunk run at the head: consecutive packets stored back to back in one chunk. */
  private readChunkRun(total: number): Uint8Array {
    const chunk = this.bufs[this.head]!;
    const start = this.offs[this.head] + this.readOffset;
    let end = start;
    while (end - start < total) {
      const idx = this.head;
      if (this.slotIds[idx] !== IN_CHUNK || this.bufs[idx] !== chunk || this.offs[idx] + this.readOffset !== end) break;
      const take = Math.min(this.lens[idx] - this.readOffset, total - (end - start));
      end += take;
      this.readOffset += take;
      if (this.readOffset === this.lens[idx]) this.releaseHead();
    }
    return chunk.subarray(start, end);
  }

  private readCopy(total: number): Uint8Array {
    const out = allocBytes(total);
    let pos = 0;
    while (pos < total) {
      const idx = this.head;
      if (this.states[idx] !== FILLED) {
        this.releaseHead();
        continue;
      }
      const take = Math.min(this.lens[idx] - this.readOffset, total - pos);
      copyBytes(this.bufs[idx]!, this.offs[idx] + this.readOffset, take, out, pos);
      pos += take;
      this.readOffset += take;
      if (this.readOffset === this.lens[idx]) this.releaseHead();
    }
    return out;
  }

  private chunkWithRoom(len: number): Uint8Array {
    if (!this.chunk || this.chunkPos + len > this.chunk.length) {
      this.chunk = allocBytes(this.chunkPackets * this.fullPayload);
      this.chunkPos = 0;
      if (this.chunkPackets < MAX_CHUNK_PACKETS) this.chunkPackets *= 2;
    }
    return this.chunk;
  }

  /**
   * Gives back what an idle connection does not need: the slot ring when nothing is held, and the stream chunk when
   * no unread packet lives in it.
   */
  trim(): void {
    if (this.ready.length === 0) this.ready = NONE;
    if (this.droppedMsgNos.length === 0) this.droppedMsgNos = NONE;
    if (this.occupied > 0) return;
    if (this.cap > 0) this.resize(0);
    this.chunk = null;
    this.chunkPos = 0;
    this.chunkPackets = FIRST_CHUNK_PACKETS;
  }

  /** Message mode: the next deliverable whole message, or null. Dropped messages are skipped and recorded. */
  readMessage(): ReceivedMessage | null {
    for (;;) {
      if (this.occupied === 0) break;
      const idx = this.head;
      const st = this.states[idx];
      if (st === EMPTY) break;
      this.passHead(this.msgws[idx] & MSG_NO_MASK);
      if (st !== FILLED) {
        if (st === DROPPED) this.recordDrop(this.msgws[idx] & MSG_NO_MASK);
        this.releaseHead();
        continue;
      }
      const n = this.messageLengthAt(0);
      if (n > 0) {
        const msg = this.assemble(0, n);
        for (let i = 0; i < n; i++) this.releaseHead();
        return msg;
      }
      if (n === 0) break;
      // Broken at the head (its start or a middle packet was dropped): discard what arrived of it.
      this.recordDrop(this.msgws[idx] & MSG_NO_MASK);
      for (let i = 0; i < -n; i++) this.releaseHead();
    }
    while (this.ready.length > 0) {
      const d = seqOff(this.readSeq, this.ready.shift()!);
      if (d < 0 || d >= this.cap) continue;
      const n = this.messageLengthAt(d);
      if (n <= 0) continue;
      const msg = this.assemble(d, n);
      for (let i = 0; i < n; i++) {
        const idx = (this.head + d + i) & this.mask;
        this.freeSlot(idx);
        this.states[idx] = CONSUMED;
      }
      return msg;
    }
    return null;
  }

  /** Whether a message could be returned by readMessage (cheap check used for readable events). */
  get hasReadyMessage(): boolean {
    return this.ready.length > 0 || (this.occupied > 0 && this.states[this.head] !== EMPTY);
  }

  /**
   * Length in packets of a complete message starting at offset d; 0 if still incomplete; -k if broken after k
   * packets (a packet of it was dropped, belongs to another message, or the start is missing).
   */
  private messageLengthAt(d: number): number {
    const first = (this.head + d) & this.mask;
    const msgNo = this.msgws[first] & MSG_NO_MASK;
    if (!(((this.msgws[first] >>> MSG_BOUNDARY_SHIFT) & Boundary.First))) return -1;
    for (let k = 0; d + k < this.cap; k++) {
      const idx = (this.head + d + k) & this.mask;
      const st = this.states[idx];
      if (st === EMPTY) return 0;
      const b = (this.msgws[idx] >>> MSG_BOUNDARY_SHIFT) & 3;
      if (st !== FILLED || (this.msgws[idx] & MSG_NO_MASK) !== msgNo || (k > 0 && b & Boundary.First)) return -Math.max(1, k);
      if (b & Boundary.Last) return k + 1;
    }
    return 0;
  }

  /** After an out-of-order-deliverable packet arrives: queue its message if now complete and not at the head. */
  private noteIfComplete(d: number): void {
    let start = d;
    const msgNo = this.msgws[(this.head + d) & this.mask] & MSG_NO_MASK;
    while (start > 0) {
      const idx = (this.head + start) & this.mask;
      if ((this.msgws[idx] >>> MSG_BOUNDARY_SHIFT) & Boundary.First) break;
      const prev = (this.head + start - 1) & this.mask;
      if (this.states[prev] !== FILLED || (this.msgws[prev] & MSG_NO_MASK) !== msgNo) return;
      start--;
    }
    if (start === 0 || this.messageLengthAt(start) <= 0) return;
    if (this.ready === NONE) this.ready = [];
    this.ready.push(seqInc(this.readSeq, start));
  }

  private assemble(d: number, n: number): ReceivedMessage {
    let total = 0;
    for (let i = 0; i < n; i++) total += this.lens[(this.head + d + i) & this.mask];
    const data = allocBytes(total);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const idx = (this.head + d + i) & this.mask;
      copyBytes(this.bufs[idx]!, this.offs[idx], this.lens[idx], data, pos);
      pos += this.lens[idx];
    }
    const w = this.msgws[(this.head + d) & this.mask];
    return { data, msgNo: w & MSG_NO_MASK, inOrder: (w & MSG_INORDER_BIT) !== 0 };
  }

  /**
   * Reports message numbers the head skipped entirely: a libudt drop request reaches one packet past its message
   * (quirk Q6), and when that packet was a whole message it is marked with the dropped message's number.
   */
  private passHead(msgNo: number): void {
    const last = this.lastHeadMsgNo;
    this.lastHeadMsgNo = msgNo;
    if (last < 0 || msgNo === last) return;
    let gap = msgNo - last;
    if (gap < 0) gap += MSG_MAX - 1;
    if (gap < 2 || gap > MAX_SKIPPED_REPORT) return;
    for (let m = msgInc(last); m !== msgNo; m = msgInc(m)) this.recordDrop(m);
  }

  private recordDrop(msgNo: number): void {
    if (msgNo === this.lastDroppedMsgNo) return;
    this.lastDroppedMsgNo = msgNo;
    if (this.droppedMsgNos === NONE) this.droppedMsgNos = [];
    this.droppedMsgNos.push(msgNo);
  }

  private advanceContig(): void {
    for (;;) {
      const d = seqOff(this.readSeq, this.contigSeq);
      if (d >= this.cap) return;
      const idx = (this.head + d) & this.mask;
      const st = this.states[idx];
      if (st === EMPTY) return;
      if (st === FILLED && !this.messageMode) this.readableBytes += this.lens[idx];
      this.contigSeq = seqInc(this.contigSeq);
    }
  }

  private freeSlot(idx: number): void {
    if (this.slotIds[idx] >= 0) {
      this.pool!.give(this.slotIds[idx]);
      this.slotIds[idx] = -1;
    }
    this.bufs[idx] = null;
  }

  private releaseHead(): void {
    const idx = this.head;
    this.freeSlot(idx);
    this.states[idx] = EMPTY;
    this.occupied--;
    this.head = (this.head + 1) & this.mask;
    this.readSeq = seqInc(this.readSeq);
    this.readOffset = 0;
    if (seqCmp(this.contigSeq, this.readSeq) < 0) this.contigSeq = this.readSeq;
  }

  private resize(newCap: number): void {
    newCap = newCap === 0 ? 0 : Math.max(MIN_CAP, newCap);
    const keep = Math.min(this.cap, newCap);
    const relay = <T extends RingColumn>(col: T, fill?: number) => relayColumn(col, this.head, this.mask, keep, newCap, fill);
    this.bufs = relay(this.bufs);
    this.offs = relay(this.offs);
    this.lens = relay(this.lens);
    this.msgws = relay(this.msgws);
    this.states = relay(this.states);
    this.slotIds = relay(this.slotIds, -1);
    this.cap = newCap;
    this.mask = newCap - 1;
    this.head = 0;
  }
}
