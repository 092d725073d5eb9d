// The caller-owned buffer that pollTransmit fills with ready datagrams (fixed stride, lengths, send times).

export interface TransmitBuffer {
  readonly buf: Uint8Array;
  /** Bytes between datagram starts; datagram i lives at buf[i * stride]. */
  readonly stride: number;
  readonly capacity: number;
  /** Datagrams filled so far; pollTransmit appends from here. */
  count: number;
  readonly lengths: Int32Array;
  /** Earliest send time of each datagram, µs (0 = at once). */
  readonly sendAt: Float64Array;
}

export function createTransmitBuffer(capacity: number, stride: number): TransmitBuffer {
  return {
    buf: new Uint8Array(capacity * stride),
    stride,
    capacity,
    count: 0,
    lengths: new Int32Array(capacity),
    sendAt: new Float64Array(capacity),
  };
}

/** Byte offset where the next datagram goes. */
export function nextSlot(out: TransmitBuffer): number {
  return out.count * out.stride;
}

/** Records a datagram of `len` bytes written at nextSlot(out). */
export function commitSlot(out: TransmitBuffer, len: number, sendAt: number): void {
  out.lengths[out.count] = len;
  out.sendAt[out.count] = sendAt;
  out.count++;
}
