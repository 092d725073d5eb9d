// Bounded ring of simulator events (send/drop/deliver/timeout/...) that a failing test prints, newest last.

import { decodePacket } from '../core/packet.js';

export type TraceKind = 'send' | 'drop' | 'deliver' | 'timeout' | 'event' | 'inject' | 'note';

/** A one-line description of a UDT datagram, decoded only when the trace is printed. */
export function summarizePacket(data: Uint8Array, len = data.length): string {
  const p = decodePacket(data, 0, len);
  switch (p.kind) {
    case 'malformed':
      return `malformed(${p.reason}) len=${len}`;
    case 'data': {
      const ff = ['mid', 'last', 'first', 'solo'][p.boundary];
      return `DATA seq=${p.seq} ${ff}${p.inOrder ? ' o' : ''} msg=${p.msgNo} len=${p.payload.length} dst=${p.dst}`;
    }
    case 'handshake': {
      const h = p.hs;
      return `HS req=${h.reqType} v=${h.version} t=${h.sockType} isn=${h.isn} mss=${h.mss} fw=${h.flowWindow} id=${h.socketId} cookie=${h.cookie >>> 0} dst=${p.dst}`;
    }
    case 'ack':
      return p.light
        ? `LACK no=${p.ackNo} dst=${p.dst}`
        : `ACK #${p.ackSeq} no=${p.ackNo} rtt=${p.rtt} var=${p.rttVar} avail=${p.avail}${p.rate >= 0 ? ` rate=${p.rate} cap=${p.capacity}` : ''} dst=${p.dst}`;
    case 'nak':
      return `NAK [${p.entries.map((e) => (e & 0x80000000 ? `${e & 0x7fffffff}..` : `${e}`)).join(' ').replace(/\.\. /g, '..')}] dst=${p.dst}`;
    case 'ack2':
      return `ACK2 #${p.ackSeq} dst=${p.dst}`;
    case 'drop':
      return `DROP msg=${p.msgNo} ${p.first}..${p.last} dst=${p.dst}`;
    case 'error':
      return `ERROR code=${p.code} dst=${p.dst}`;
    case 'user':
      return `USER ext=${p.extType} info=${p.info} len=${p.body.length} dst=${p.dst}`;
    default:
      return `${p.kind.toUpperCase()} dst=${p.dst}`;
  }
}

export class Trace {
  private readonly times: Float64Array;
  private readonly kinds: TraceKind[];
  private readonly srcs: string[];
  private readonly dsts: string[];
  private readonly datas: (Uint8Array | null)[];
  private readonly notes: string[];
  private next = 0;
  private filled = 0;
  /** Entries recorded since the start (including those the ring has forgotten). */
  total = 0;

  constructor(readonly capacity: number) {
    this.times = new Float64Array(capacity);
    this.kinds = new Array(capacity);
    this.srcs = new Array(capacity);
    this.dsts = new Array(capacity);
    this.datas = new Array(capacity).fill(null);
    this.notes = new Array(capacity);
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  /** Records an entry; `data` is kept by reference and must not be modified afterwards. */
  add(t: number, kind: TraceKind, src: string, dst: string, data: Uint8Array | null, note = ''): void {
    this.total++;
    if (this.capacity === 0) return;
    const i = this.next;
    this.times[i] = t;
    this.kinds[i] = kind;
    this.srcs[i] = src;
    this.dsts[i] = dst;
    this.datas[i] = data;
    this.notes[i] = note;
    this.next = (i + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  /** The last `n` entries formatted one per line, oldest first. */
  lines(n = this.capacity): string[] {
    const count = Math.min(n, this.filled);
    const out: string[] = [];
    for (let k = count; k > 0; k--) {
      const i = (this.next - k + this.capacity) % this.capacity;
      const data = this.datas[i];
      const what = data ? summarizePacket(data) : '';
      const note = this.notes[i] ? ` (${this.notes[i]})` : '';
      const t = (this.times[i] / 1e6).toFixed(6);
      out.push(`${t.padStart(12)} ${this.kinds[i].padEnd(7)} ${this.srcs[i]}>${this.dsts[i]} ${what}${note}`);
    }
    return out;
  }

  format(n = 60): string {
    const skipped = this.total - Math.min(n, this.filled);
    return (skipped > 0 ? `... ${skipped} earlier trace entries\n` : '') + this.lines(n).join('\n');
  }
}
