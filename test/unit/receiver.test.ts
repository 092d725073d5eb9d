// Receiver edge cases: message-drop requests that reach past the receive window.
import { describe, expect, it } from 'vitest';
import { Boundary, msgWord } from '../../src/ts/core/packet.js';
import { Receiver } from '../../src/ts/core/receiver.js';
import { ConnectionCounters } from '../../src/ts/core/stats.js';

describe('Receiver message drops', () => {
  it('a drop request longer than the window only skips what the buffer could mark; the rest is NAKed', () => {
    // 32-packet buffer: sequence numbers 0..30 fit while the reader is at 0.
    const r = new Receiver(new ConnectionCounters(), 100, 32, 0, true, null, false);
    const data = new Uint8Array(100);
    r.onData(0, 0, msgWord(Boundary.First, true, 1), data, 0, 100, true);
    r.onData(1, 1, msgWord(Boundary.Last, true, 1), data, 0, 100, true);
    // The sender dropped message 2 (seqs 2..40) on TTL before sending any of it.
    r.onMsgDrop(2, 40, 2);
    expect(r.buffer.readMessage()!.msgNo).toBe(1);
    expect(r.buffer.readMessage()).toBeNull(); // passes over the dropped slots 2..30
    expect(r.buffer.readSeq).toBe(31);
    r.onData(2, 41, msgWord(Boundary.Solo, true, 3), data, 0, 50, true);
    // 31..40 could not be marked dropped (outside the window at the time): they must not be acknowledged as received.
    expect(r.ackNumber()).toBe(31);
    expect(r.buffer.readMessage()).toBeNull();
    // The NAK for 31..40 makes the sender repeat its drop request, which now fits.
    r.onMsgDrop(2, 40, 2);
    expect(r.ackNumber()).toBe(42);
    const m = r.buffer.readMessage();
    expect(m?.msgNo).toBe(3);
    expect(m?.data.length).toBe(50);
  });
});
