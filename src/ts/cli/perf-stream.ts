// udt-perf's per-stream data movers and meters: paced-by-backpressure frame sending, frame counting, interval stats.

import type { UdtSocket, UdtStats } from '../api/index.js';
import type { ByteReader } from './byte-reader.js';
import { FrameSource, TERMINATOR, type SideTotals } from './perf-protocol.js';

export type Role = 'sender' | 'receiver';

/** Counts one stream's application bytes and turns its socket stats into per-interval samples. */
export class StreamMeter {
  bytes = 0;
  private lastBytes = 0;
  started = 0;
  finished = 0;

  constructor(
    readonly id: number,
    readonly socket: UdtSocket,
    readonly role: Role,
  ) {}

  start(): void {
    this.started = performance.now();
  }

  /**
   * Bytes since the last call and the socket's interval counters (which this clears). A sender counts payload that
   * went onto the wire for the first time (what it writes may still sit in the send buffer); a receiver, bytes read.
   */
  sample(): { bytes: number; stats: UdtStats } {
    const stats = this.socket.getStats();
    const total = this.role === 'sender' ? stats.bytesSentTotal : this.bytes;
    const bytes = total - this.lastBytes;
    this.lastBytes = total;
    return { bytes, stats };
  }

  totals(): SideTotals {
    const s = this.socket.getStats({ clear: false });
    const seconds = ((this.finished || performance.now()) - this.started) / 1000;
    return {
      bytes: this.bytes,
      seconds,
      mbps: seconds > 0 ? (this.bytes * 8) / seconds / 1e6 : 0,
      retransmits: s.pktRetransTotal,
      lossPackets: this.role === 'sender' ? s.pktSndLossTotal : s.pktRcvLossTotal,
      rttMs: s.msRTT,
      engine: s.engine,
    };
  }
}

/** Waits for 'drain'; rejects if the socket fails or closes first. */
function drained(socket: UdtSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('connection closed during the test'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

const QUEUE_FLOOR = 1 << 20;
const QUEUE_SECONDS = 0.5;

/**
 * How much written-but-unsent data a timed test lets queue: about half a second at the rate achieved so far, so the
 * test ends close to its time instead of draining a full send buffer at a low rate.
 */
function queueCap(meter: StreamMeter, sentOnWire: number): number {
  const elapsed = (performance.now() - meter.started) / 1000;
  return Math.max(QUEUE_FLOOR, elapsed > 0 ? (sentOnWire / elapsed) * QUEUE_SECONDS : 0);
}

/** Sends frames until the time or byte budget is used, then the terminator. */
export async function sendFrames(meter: StreamMeter, limit: { seconds: number | null; bytes: number | null }, signal?: AbortSignal): Promise<void> {
  const source = new FrameSource();
  const timed = limit.seconds !== null;
  const deadline = timed ? meter.started + limit.seconds! * 1000 : Infinity;
  const budget = limit.bytes ?? Infinity;
  const socket = meter.socket;
  while (meter.bytes < budget && performance.now() < deadline && !signal?.aborted) {
    if (timed) {
      const onWire = socket.getStats({ clear: false }).bytesSentTotal;
      if (meter.bytes - onWire > queueCap(meter, onWire)) {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
    }
    const { buf, payload } = source.frame(budget - meter.bytes);
    const ok = socket.write(buf);
    meter.bytes += payload;
    if (!ok) await drained(socket);
  }
  if (!socket.write(TERMINATOR)) await drained(socket);
}

/** Counts frames until the terminator. */
export async function receiveFrames(meter: StreamMeter, reader: ByteReader): Promise<void> {
  for (;;) {
    const head = await reader.exact(4);
    if (!head) throw new Error('connection closed in the middle of the test');
    let left = head.readUInt32BE(0);
    if (left === 0) break;
    while (left > 0) {
      const b = await reader.chunk(left);
      if (!b) throw new Error('connection closed in the middle of the test');
      left -= b.length;
      meter.bytes += b.length;
    }
  }
  meter.finished = performance.now();
}
