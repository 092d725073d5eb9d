// Pulls exact byte counts out of a readable stream. Chunks arrive as 'data' events (flowing mode) and wait in a
// bounded queue (pause/resume keeps the stream's backpressure): read() on a paused stream would concatenate, i.e.
// copy, whatever the stream had buffered.

import { finished, type Readable } from 'node:stream';

/** Bytes queued before the stream is paused. */
const QUEUE_HIGH = 1 << 20;

export class ByteReader {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private done = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly stream: Readable) {
    stream.on('data', (b: Buffer) => {
      this.queue.push(b);
      this.queued += b.length;
      if (this.queued >= QUEUE_HIGH) stream.pause();
      this.notify();
    });
    finished(stream, { writable: false }, (err) => {
      this.done = true;
      this.error = err ?? null;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Up to `max` bytes, or null at the end of the stream. */
  async chunk(max: number): Promise<Buffer | null> {
    while (this.queue.length === 0) {
      if (this.done) {
        if (this.error) throw this.error;
        return null;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
    let b = this.queue[0];
    if (b.length > max) {
      this.queue[0] = b.subarray(max);
      b = b.subarray(0, max);
    } else {
      this.queue.shift();
    }
    this.queued -= b.length;
    if (this.queued < QUEUE_HIGH / 2 && this.stream.isPaused() && !this.done) this.stream.resume();
    return b;
  }

  /** Exactly `n` bytes, or null if the stream ends first. */
  async exact(n: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const b = await this.chunk(n - got);
      if (!b) return null;
      parts.push(b);
      got += b.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  /** One line without its newline (at most `max` bytes), or null if the stream ends first. */
  async line(max: number): Promise<string | null> {
    const parts: Buffer[] = [];
    let got = 0;
    for (;;) {
      const b = await this.chunk(max + 1 - got);
      if (!b) return null;
      const nl = b.indexOf(10);
      if (nl >= 0) {
        if (nl + 1 < b.length) this.queue.unshift(b.subarray(nl + 1));
        this.queued += b.length - nl - 1;
        parts.push(b.subarray(0, nl));
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(b);
      got += b.length;
      if (got > max) throw new Error(`line longer than ${max} bytes`);
    }
  }
}
