// Receiver edge cases: message-drop requests that reach past the receive window, oversized data packets.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/ts/core/config.js';
import { Connection } from '../../src/ts/core/connection.js';
import { Boundary, decodePacket, HEADER_SIZE, ipToBytes, msgWord, writeDataHeader, type Handshake } from '../../src/ts/core/packet.js';
import { createTransmitBuffer } from '../../src/ts/core/transmit.js';
import { Receiver } from '../../src/ts/core/receiver.js';
import { SlotPool } from '../../src/ts/core/slot-pool.js';
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

describe('oversized data packets', () => {
  it('a data packet larger than the negotiated payload is dropped, never half-copied into a pool slot', () => {
    const cfg = resolveConfig({ seed: 1, mss: 1000 });
    const pool = new SlotPool(cfg.payloadSize, 4);
    const request: Handshake = { version: 4, sockType: 1, isn: 500, mss: 1000, flowWindow: 8192, reqType: -1, socketId: 7, cookie: 1, peerIp: ipToBytes('10.0.0.2') };
    const conn = Connection.accept(cfg, { localSocketId: 9, peerAddress: '10.0.0.1', now: 0, pool }, request);
    const len = cfg.payloadSize + 100;
    const pkt = new Uint8Array(HEADER_SIZE + len).fill(0xab);
    writeDataHeader(pkt, 0, 500, msgWord(Boundary.Solo, false, 1), 0, 9);
    conn.handleDatagram(10, pkt, 0, pkt.length, false);
    const got = conn.read();
    // Either refused, or delivered exactly as sent: never a length that does not match the bytes.
    if (got) expect(Array.from(got)).toEqual(new Array(len).fill(0xab));
    expect(got).toBeNull();
    expect(conn.counters.bytesRecv).toBe(0);
  });
});

describe('light ACK after short packets', () => {
  const lightAcks = (r: Receiver, now: number): number => {
    const out = createTransmitBuffer(8, 1500);
    r.pollControl(now, out, 1);
    let n = 0;
    for (let i = 0; i < out.count; i++) {
      const p = decodePacket(out.buf, i * out.stride, out.lengths[i]);
      if (p.kind === 'ack' && p.light) n++;
    }
    return n;
  };

  it('goes 1 ms after a run of short packets pauses, once for the run, not 1 ms after its first packet', () => {
    const c = new ConnectionCounters();
    const r = new Receiver(c, 100, 1024, 0, false, null, false);
    const data = new Uint8Array(100);
    // Short packets (50 of 100 bytes) every 200 µs for 3 ms: a request/response flow.
    let t = 0;
    for (let seq = 0; seq < 15; seq++, t += 200) {
      r.onData(t, seq, msgWord(Boundary.Solo, true, seq + 1), data, 0, 50, true);
      expect(r.nextDeadline()).toBe(t + 1000);
      expect(lightAcks(r, t)).toBe(0);
    }
    const last = t - 200;
    expect(lightAcks(r, last + 999)).toBe(0);
    expect(lightAcks(r, last + 1000)).toBe(1);
    expect(c.pktSentLightACK).toBe(1);
    expect(lightAcks(r, last + 2000)).toBe(0);
  });
});
