// Byte-exact codec for every UDT4 packet type (spec §1-5): header words, control bodies, handshake, NAK lists.

export const HEADER_SIZE = 16;
export const HANDSHAKE_BODY_SIZE = 48;
/** IP + UDP header bytes libudt assumes are included in the MSS. */
export const IP_UDP_OVERHEAD = 28;
/** Data payload per packet = MSS - DATA_OVERHEAD. */
export const DATA_OVERHEAD = IP_UDP_OVERHEAD + HEADER_SIZE;

export const CtrlType = {
  Handshake: 0,
  KeepAlive: 1,
  Ack: 2,
  Nak: 3,
  CongestionWarning: 4,
  Shutdown: 5,
  Ack2: 6,
  MsgDrop: 7,
  Error: 8,
  User: 0x7fff,
} as const;

/** Boundary bits of data word 1. */
export const Boundary = { Middle: 0, Last: 1, First: 2, Solo: 3 } as const;
export const MSG_BOUNDARY_SHIFT = 30;
export const MSG_INORDER_BIT = 0x20000000;
export const MSG_NO_MASK = 0x1fffffff;
export const NAK_RANGE_BIT = 0x80000000;

export const SocketType = { Stream: 1, Dgram: 2 } as const;
export const ReqType = { Regular: 1, Rendezvous: 0, Response: -1, RendezvousConnected: -2, Rejected: 1002 } as const;
export const UDT_VERSION = 4;

export interface Handshake {
  version: number;
  sockType: number;
  isn: number;
  mss: number;
  flowWindow: number;
  reqType: number;
  socketId: number;
  cookie: number;
  /** The receiver's address as the sender sees it, 16 bytes in natural (network) order; IPv4 uses bytes 0-3. */
  peerIp: Uint8Array;
}

export interface DataPacket {
  kind: 'data';
  seq: number;
  boundary: number;
  inOrder: boolean;
  msgNo: number;
  timestamp: number;
  dst: number;
  payload: Uint8Array;
}

export interface HandshakePacket { kind: 'handshake'; dst: number; info: number; hs: Handshake }
export interface KeepAlivePacket { kind: 'keepalive'; dst: number }
export interface AckPacket {
  kind: 'ack';
  dst: number;
  /** 0 for a light ACK. */
  ackSeq: number;
  ackNo: number;
  light: boolean;
  rtt: number;
  rttVar: number;
  avail: number;
  /** Present (non-negative) only in the 24-byte form; -1 otherwise. */
  rate: number;
  capacity: number;
}
export interface NakPacket { kind: 'nak'; dst: number; entries: number[] }
export interface CongestionWarningPacket { kind: 'cwarn'; dst: number }
export interface ShutdownPacket { kind: 'shutdown'; dst: number }
export interface Ack2Packet { kind: 'ack2'; dst: number; ackSeq: number }
export interface MsgDropPacket { kind: 'drop'; dst: number; msgNo: number; first: number; last: number }
export interface ErrorPacket { kind: 'error'; dst: number; code: number }
export interface UserPacket { kind: 'user'; dst: number; extType: number; info: number; body: Uint8Array }

export type ControlPacket =
  | HandshakePacket
  | KeepAlivePacket
  | AckPacket
  | NakPacket
  | CongestionWarningPacket
  | ShutdownPacket
  | Ack2Packet
  | MsgDropPacket
  | ErrorPacket
  | UserPacket;
export type Packet = DataPacket | ControlPacket;

/** Why a datagram was not accepted as a UDT packet. */
export type MalformedReason =
  | 'short'
  | 'empty-data'
  | 'unknown-type'
  | 'handshake-size'
  | 'ack-size'
  | 'nak-size'
  | 'nak-range'
  | 'drop-size'
  | 'body-alignment';

export interface Malformed { kind: 'malformed'; reason: MalformedReason }

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function readI32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export function writeHeader(b: Uint8Array, o: number, w0: number, w1: number, w2: number, w3: number): void {
  writeU32(b, o, w0);
  writeU32(b, o + 4, w1);
  writeU32(b, o + 8, w2);
  writeU32(b, o + 12, w3);
}

export function isControl(b: Uint8Array, o: number): boolean {
  return (b[o] & 0x80) !== 0;
}

export function ctrlWord0(type: number, extType = 0): number {
  return (0x80000000 | (type << 16) | (extType & 0xffff)) >>> 0;
}

export function msgWord(boundary: number, inOrder: boolean, msgNo: number): number {
  return ((boundary << MSG_BOUNDARY_SHIFT) | (inOrder ? MSG_INORDER_BIT : 0) | (msgNo & MSG_NO_MASK)) >>> 0;
}

/** Writes a data header; the payload goes at o + 16. */
export function writeDataHeader(b: Uint8Array, o: number, seq: number, msgW: number, ts: number, dst: number): void {
  writeHeader(b, o, seq & 0x7fffffff, msgW, ts, dst);
}

/** A control packet with a 4-byte zero body (keep-alive, shutdown, ACK2, warning, error). Returns its size. */
export function writeEmptyControl(b: Uint8Array, o: number, type: number, info: number, dst: number): number {
  writeHeader(b, o, ctrlWord0(type), info, 0, dst);
  writeU32(b, o + 16, 0);
  return 20;
}

export function writeAck(
  b: Uint8Array,
  o: number,
  dst: number,
  ackSeq: number,
  ackNo: number,
  rtt: number,
  rttVar: number,
  avail: number,
  rate: number,
  capacity: number,
): number {
  writeHeader(b, o, ctrlWord0(CtrlType.Ack), ackSeq, 0, dst);
  writeU32(b, o + 16, ackNo);
  writeU32(b, o + 20, rtt);
  writeU32(b, o + 24, rttVar);
  writeU32(b, o + 28, avail);
  if (rate < 0) return 32;
  writeU32(b, o + 32, rate);
  writeU32(b, o + 36, capacity);
  return 40;
}

export function writeLightAck(b: Uint8Array, o: number, dst: number, ackNo: number): number {
  writeHeader(b, o, ctrlWord0(CtrlType.Ack), 0, 0, dst);
  writeU32(b, o + 16, ackNo);
  return 20;
}

/** Writes a NAK whose body is the given compressed entries. */
export function writeNak(b: Uint8Array, o: number, dst: number, entries: ArrayLike<number>, count: number): number {
  writeHeader(b, o, ctrlWord0(CtrlType.Nak), 0, 0, dst);
  for (let i = 0; i < count; i++) writeU32(b, o + 16 + 4 * i, entries[i]);
  return 16 + 4 * count;
}

export function writeMsgDrop(b: Uint8Array, o: number, dst: number, msgNo: number, first: number, last: number): number {
  writeHeader(b, o, ctrlWord0(CtrlType.MsgDrop), msgNo & MSG_NO_MASK, 0, dst);
  writeU32(b, o + 16, first);
  writeU32(b, o + 20, last);
  return 24;
}

export function writeHandshake(b: Uint8Array, o: number, dst: number, hs: Handshake, info = 0): number {
  writeHeader(b, o, ctrlWord0(CtrlType.Handshake), info, 0, dst);
  const p = o + 16;
  writeU32(b, p, hs.version);
  writeU32(b, p + 4, hs.sockType);
  writeU32(b, p + 8, hs.isn);
  writeU32(b, p + 12, hs.mss);
  writeU32(b, p + 16, hs.flowWindow);
  writeU32(b, p + 20, hs.reqType);
  writeU32(b, p + 24, hs.socketId);
  writeU32(b, p + 28, hs.cookie);
  // libudt stores the address in host memory and swaps each word (§5.2): each 4-byte group goes out reversed.
  for (let w = 0; w < 4; w++) {
    for (let j = 0; j < 4; j++) b[p + 32 + w * 4 + j] = hs.peerIp[w * 4 + 3 - j];
  }
  return 64;
}

function readHandshake(b: Uint8Array, p: number): Handshake {
  const peerIp = new Uint8Array(16);
  for (let w = 0; w < 4; w++) {
    for (let j = 0; j < 4; j++) peerIp[w * 4 + 3 - j] = b[p + 32 + w * 4 + j];
  }
  return {
    version: readI32(b, p),
    sockType: readI32(b, p + 4),
    isn: readI32(b, p + 8),
    mss: readI32(b, p + 12),
    flowWindow: readI32(b, p + 16),
    reqType: readI32(b, p + 20),
    socketId: readI32(b, p + 24),
    cookie: readI32(b, p + 28),
    peerIp,
  };
}

/** Splits NAK entries into inclusive [first, last] ranges; returns null when a range start has no end. */
export function nakRanges(entries: ArrayLike<number>): Array<[number, number]> | null {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] >>> 0;
    if (e & NAK_RANGE_BIT) {
      if (i + 1 >= entries.length || entries[i + 1] & NAK_RANGE_BIT) return null;
      out.push([e & 0x7fffffff, entries[i + 1] & 0x7fffffff]);
      i++;
    } else {
      out.push([e, e]);
    }
  }
  return out;
}

const malformed = (reason: MalformedReason): Malformed => ({ kind: 'malformed', reason });

/** Decodes one datagram (for tools, tests and the control path; the data hot path reads fields in place). */
export function decodePacket(b: Uint8Array, o = 0, len = b.length - o): Packet | Malformed {
  if (len < HEADER_SIZE) return malformed('short');
  const w0 = readU32(b, o);
  const w1 = readU32(b, o + 4);
  const w2 = readU32(b, o + 8);
  const dst = readU32(b, o + 12);
  const bodyLen = len - HEADER_SIZE;
  const p = o + HEADER_SIZE;
  if ((w0 & 0x80000000) === 0) {
    if (bodyLen === 0) return malformed('empty-data');
    return {
      kind: 'data',
      seq: w0,
      boundary: w1 >>> MSG_BOUNDARY_SHIFT,
      inOrder: (w1 & MSG_INORDER_BIT) !== 0,
      msgNo: w1 & MSG_NO_MASK,
      timestamp: w2,
      dst,
      payload: b.subarray(p, p + bodyLen),
    };
  }
  const type = (w0 >>> 16) & 0x7fff;
  switch (type) {
    case CtrlType.Handshake:
      if (bodyLen !== HANDSHAKE_BODY_SIZE) return malformed('handshake-size');
      return { kind: 'handshake', dst, info: w1, hs: readHandshake(b, p) };
    case CtrlType.KeepAlive:
      return { kind: 'keepalive', dst };
    case CtrlType.Ack: {
      if (bodyLen === 4) {
        return { kind: 'ack', dst, ackSeq: w1, ackNo: readU32(b, p), light: true, rtt: -1, rttVar: -1, avail: -1, rate: -1, capacity: -1 };
      }
      if (bodyLen < 16) return malformed('ack-size');
      const full = bodyLen >= 24;
      return {
        kind: 'ack',
        dst,
        ackSeq: w1,
        ackNo: readU32(b, p),
        light: false,
        rtt: readI32(b, p + 4),
        rttVar: readI32(b, p + 8),
        avail: readI32(b, p + 12),
        rate: full ? readI32(b, p + 16) : -1,
        capacity: full ? readI32(b, p + 20) : -1,
      };
    }
    case CtrlType.Nak: {
      if (bodyLen < 4) return malformed('nak-size');
      if (bodyLen % 4 !== 0) return malformed('body-alignment');
      const entries: number[] = [];
      for (let i = 0; i < bodyLen; i += 4) entries.push(readU32(b, p + i));
      if (nakRanges(entries) === null) return malformed('nak-range');
      return { kind: 'nak', dst, entries };
    }
    case CtrlType.CongestionWarning:
      return { kind: 'cwarn', dst };
    case CtrlType.Shutdown:
      return { kind: 'shutdown', dst };
    case CtrlType.Ack2:
      return { kind: 'ack2', dst, ackSeq: w1 };
    case CtrlType.MsgDrop:
      if (bodyLen < 8) return malformed('drop-size');
      return { kind: 'drop', dst, msgNo: w1 & MSG_NO_MASK, first: readU32(b, p) & 0x7fffffff, last: readU32(b, p + 4) & 0x7fffffff };
    case CtrlType.Error:
      return { kind: 'error', dst, code: w1 | 0 };
    case CtrlType.User:
      return { kind: 'user', dst, extType: w0 & 0xffff, info: w1, body: b.subarray(p, p + bodyLen) };
    default:
      return malformed('unknown-type');
  }
}

/** Encodes any packet into a new buffer (tests, tools). The connection uses the write* functions directly. */
export function encodePacket(pkt: Packet): Uint8Array {
  const size =
    pkt.kind === 'data' ? 16 + pkt.payload.length
    : pkt.kind === 'nak' ? 16 + 4 * pkt.entries.length
    : pkt.kind === 'user' ? 16 + Math.max(4, pkt.body.length)
    : 64;
  const b = new Uint8Array(size);
  let n: number;
  switch (pkt.kind) {
    case 'data':
      writeDataHeader(b, 0, pkt.seq, msgWord(pkt.boundary, pkt.inOrder, pkt.msgNo), pkt.timestamp, pkt.dst);
      b.set(pkt.payload, 16);
      n = size;
      break;
    case 'handshake':
      n = writeHandshake(b, 0, pkt.dst, pkt.hs, pkt.info);
      break;
    case 'keepalive':
      n = writeEmptyControl(b, 0, CtrlType.KeepAlive, 0, pkt.dst);
      break;
    case 'ack':
      n = pkt.light
        ? writeLightAck(b, 0, pkt.dst, pkt.ackNo)
        : writeAck(b, 0, pkt.dst, pkt.ackSeq, pkt.ackNo, pkt.rtt, pkt.rttVar, pkt.avail, pkt.rate, pkt.capacity);
      break;
    case 'nak':
      n = writeNak(b, 0, pkt.dst, pkt.entries, pkt.entries.length);
      break;
    case 'cwarn':
      n = writeEmptyControl(b, 0, CtrlType.CongestionWarning, 0, pkt.dst);
      break;
    case 'shutdown':
      n = writeEmptyControl(b, 0, CtrlType.Shutdown, 0, pkt.dst);
      break;
    case 'ack2':
      n = writeEmptyControl(b, 0, CtrlType.Ack2, pkt.ackSeq, pkt.dst);
      break;
    case 'drop':
      n = writeMsgDrop(b, 0, pkt.dst, pkt.msgNo, pkt.first, pkt.last);
      break;
    case 'error':
      n = writeEmptyControl(b, 0, CtrlType.Error, pkt.code, pkt.dst);
      break;
    case 'user':
      writeHeader(b, 0, ctrlWord0(CtrlType.User, pkt.extType), pkt.info, 0, pkt.dst);
      b.set(pkt.body, 16);
      n = size;
      break;
  }
  return b.subarray(0, n);
}

/** Compresses sorted inclusive ranges into NAK entries (single seq = one entry, else start|bit + end). */
export function compressLoss(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const out: number[] = [];
  for (const [a, c] of ranges) {
    if (a === c) out.push(a);
    else out.push((a | NAK_RANGE_BIT) >>> 0, c);
  }
  return out;
}

/** Address text to the 16-byte handshake peer-IP form (natural byte order). */
export function ipToBytes(address: string): Uint8Array {
  const out = new Uint8Array(16);
  if (address.includes(':')) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return ipToBytes(mapped[1]);
    const [head, tail = ''] = address.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = address.includes('::') ? [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t] : h;
    groups.forEach((g, i) => {
      const v = parseInt(g || '0', 16);
      out[i * 2] = v >> 8;
      out[i * 2 + 1] = v & 0xff;
    });
    return out;
  }
  address.split('.').forEach((part, i) => (out[i] = Number(part) & 0xff));
  return out;
}

/** Inverse of ipToBytes: IPv4 when bytes 4-15 are zero. */
export function bytesToIp(b: Uint8Array): string {
  let v4 = true;
  for (let i = 4; i < 16; i++) if (b[i] !== 0) v4 = false;
  if (v4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
