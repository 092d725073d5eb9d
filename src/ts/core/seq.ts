// Wrap-safe arithmetic for UDT's 31-bit packet sequence numbers, 29-bit message numbers and ACK sequence numbers.

export const SEQ_MAX = 0x7fffffff;
const SEQ_TH = 0x3fffffff;

/** Sign tells the order of a and b (negative: a before b). Only the sign is meaningful. */
export function seqCmp(a: number, b: number): number {
  const d = a - b;
  return Math.abs(d) < SEQ_TH ? d : -d;
}

/** Number of sequence numbers from a to b inclusive (b after or equal to a). */
export function seqLen(a: number, b: number): number {
  return a <= b ? b - a + 1 : b - a + SEQ_MAX + 2;
}

/** Signed distance from a to b: positive when b is after a. */
export function seqOff(a: number, b: number): number {
  const d = b - a;
  if (Math.abs(d) < SEQ_TH) return d;
  return a < b ? d - SEQ_MAX - 1 : d + SEQ_MAX + 1;
}

export function seqInc(a: number, n = 1): number {
  const r = a + n;
  return r > SEQ_MAX ? r - SEQ_MAX - 1 : r;
}

export function seqDec(a: number, n = 1): number {
  const r = a - n;
  return r < 0 ? r + SEQ_MAX + 1 : r;
}

export const MSG_MAX = 0x1fffffff;
const MSG_TH = 0x0fffffff;

/** Next message number; 4.11 never uses 0 or MSG_MAX, wrapping 0x1FFFFFFE back to 1. */
export function msgInc(m: number): number {
  return m >= MSG_MAX - 1 ? 1 : m + 1;
}

export function msgCmp(a: number, b: number): number {
  const d = a - b;
  return Math.abs(d) < MSG_TH ? d : -d;
}

/** ACK sequence numbers share the 31-bit space but start at 1. */
export const ackSeqInc = seqInc;

/** Offset of `seq` inside a ring whose first slot holds `base`, or -1 when outside [0, size). */
export function seqIndex(base: number, seq: number, size: number): number {
  const off = seqOff(base, seq);
  return off >= 0 && off < size ? off : -1;
}
