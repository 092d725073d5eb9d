// Pulls exact byte counts out of a readable stream (async iteration keeps the stream's backpressure).

import type { Readable } from 'node:stream';

export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private leftover: Buffer | null = null;

  constructor(stream: Readable) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Up to `max` bytes, or null at the end of the stream. */
  async chunk(max: number): Promise<Buffer | null> {
    let b = this.leftover;
    this.leftover = null;
    if (!b) {
      const r = await this.it.next();
      if (r.done) return null;
      b = r.value;
    }
    if (b.length > max) {
      this.leftover = b.subarray(max);
      b = b.subarray(0, max);
    }
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
        if (nl + 1 < b.length) this.leftover = this.leftover ? Buffer.concat([b.subarray(nl + 1), this.leftover]) : b.subarray(nl + 1);
        parts.push(b.subarray(0, nl));
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(b);
      got += b.length;
      if (got > max) throw new Error(`line longer than ${max} bytes`);
    }
  }

  /** Stops iterating (the stream is destroyed). */
  async close(): Promise<void> {
    await this.it.return?.();
  }
}
