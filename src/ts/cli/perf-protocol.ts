// udt-perf's wire protocol on each UDT stream: JSON control lines around length-prefixed data frames.
//
// client → server:  {"udtPerf":1,"test":ID,"stream":i,"streams":P,"reverse":bool,"seconds":T|null,"bytes":N|null}\n
// server → client:  {"udtPerf":1,"ok":true,"engine":...}\n            (or ok:false with an error, then close)
// data sender → receiver:  frames [u32 length][length bytes] ..., then [u32 0]
// receiver → sender:       {"type":"done", ...receiver's view}\n
// reverse only, server → client: {"type":"report", ...server's (sender's) view}\n
// The client closes the connection when it has everything (UDT has no half-close).

import { randomBytes } from 'node:crypto';

export const PERF_VERSION = 1;
export const FRAME_PAYLOAD = 128 * 1024;
export const MAX_CONTROL_LINE = 64 * 1024;
export const TERMINATOR = Buffer.alloc(4);

export interface Hello {
  udtPerf: number;
  test: string;
  stream: number;
  streams: number;
  reverse: boolean;
  seconds: number | null;
  bytes: number | null;
}

export interface HelloReply {
  udtPerf: number;
  ok: boolean;
  engine?: string;
  error?: string;
}

/** One side's totals for one stream. */
export interface SideTotals {
  bytes: number;
  seconds: number;
  mbps: number;
  retransmits: number;
  lossPackets: number;
  rttMs: number;
  engine: string;
}

export function isHello(v: unknown): v is Hello {
  const h = v as Partial<Hello> | null;
  return (
    typeof h === 'object' &&
    h !== null &&
    typeof h.udtPerf === 'number' &&
    typeof h.test === 'string' &&
    Number.isInteger(h.stream) &&
    Number.isInteger(h.streams) &&
    typeof h.reverse === 'boolean' &&
    (h.seconds === null || (typeof h.seconds === 'number' && h.seconds > 0)) &&
    (h.bytes === null || (typeof h.bytes === 'number' && Number.isSafeInteger(h.bytes) && h.bytes > 0))
  );
}

/** The totals a peer reported, or null when the object is not a SideTotals. */
export function sideTotals(v: Record<string, unknown>): SideTotals | null {
  const n = (k: string) => (typeof v[k] === 'number' ? (v[k] as number) : NaN);
  const t = { bytes: n('bytes'), seconds: n('seconds'), mbps: n('mbps'), retransmits: n('retransmits'), lossPackets: n('lossPackets'), rttMs: n('rttMs'), engine: String(v.engine ?? '') };
  return Object.values(t).some((x) => typeof x === 'number' && Number.isNaN(x)) ? null : t;
}

export function line(v: object): string {
  return `${JSON.stringify(v)}\n`;
}

export function parseLine(text: string | null, what: string): Record<string, unknown> {
  if (text === null) throw new Error(`connection closed before the ${what}`);
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(`unreadable ${what} (is the peer udt-perf?)`);
}

/** A reusable full-size frame, and a short last frame when a byte count asks for one. */
export class FrameSource {
  private readonly full: Buffer;

  constructor() {
    this.full = Buffer.allocUnsafe(4 + FRAME_PAYLOAD);
    this.full.writeUInt32BE(FRAME_PAYLOAD, 0);
    randomBytes(FRAME_PAYLOAD).copy(this.full, 4);
  }

  /** The next frame carrying at most `remaining` payload bytes. */
  frame(remaining: number): { buf: Buffer; payload: number } {
    if (remaining >= FRAME_PAYLOAD) return { buf: this.full, payload: FRAME_PAYLOAD };
    const buf = Buffer.from(this.full.subarray(0, 4 + remaining));
    buf.writeUInt32BE(remaining, 0);
    return { buf, payload: remaining };
  }
}
