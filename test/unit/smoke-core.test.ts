// Quick end-to-end check of the core: a client and a listener-accepted server exchange data over a perfect pipe.
import { describe, expect, it } from 'vitest';
import { Connection, createTransmitBuffer, decodePacket, Listener, resolveConfig } from '../../src/ts/core/index.js';

describe('core smoke', () => {
  it('connects and moves 1 MB', () => {
    const cfg = resolveConfig({ seed: 1 });
    let now = 1_000_000;
    const client = Connection.connect(cfg, { localSocketId: 111, isn: 5000, peerAddress: '127.0.0.1', now });
    const listener = new Listener({ sockType: 1, startTime: 0 });
    let server: Connection | null = null;
    const out = createTransmitBuffer(64, 1500);
    const data = new Uint8Array(1_000_000).map((_, i) => (i * 7) & 255);
    let written = 0;
    const received: Uint8Array[] = [];
    for (let step = 0; step < 200000 && (received.reduce((a, b) => a + b.length, 0) < data.length); step++) {
      // client -> server
      out.count = 0;
      client.handleTimeout(now);
      client.pollTransmit(now, out);
      for (let i = 0; i < out.count; i++) {
        const d = out.buf.slice(i * 1500, i * 1500 + out.lengths[i]);
        const dst = (d[12] << 24) | (d[13] << 16) | (d[14] << 8) | d[15];
        if (dst === 0) {
          const p = decodePacket(d);
          if (p.kind !== 'handshake') continue;
          const dec = listener.handle(now, p.hs, '127.0.0.1', 9000);
          if (dec.kind === 'reply') {
            const back = new Uint8Array(64);
            const { writeHandshake } = await_import;
            writeHandshake(back, 0, dec.dst, dec.response);
            client.handleDatagram(now, back, 0, 64);
          } else if (dec.kind === 'accept') {
            if (!server) server = Connection.accept(cfg, { localSocketId: 222, peerAddress: '127.0.0.1', now }, dec.request);
            else server.resendHandshakeResponse();
          }
        } else if (server) {
          server.handleDatagram(now, d, 0, d.length, true);
        }
      }
      if (server) {
        out.count = 0;
        server.handleTimeout(now);
        server.pollTransmit(now, out);
        for (let i = 0; i < out.count; i++) client.handleDatagram(now, out.buf.slice(i * 1500, i * 1500 + out.lengths[i]), 0, out.lengths[i], true);
        let chunk;
        while ((chunk = server.read())) received.push(chunk);
      }
      if (client.state === 'connected' && written < data.length) written += client.write(data.subarray(written), now);
      let ev;
      while ((ev = client.pollEvent())) if (ev.type === 'closed') throw new Error('client closed ' + ev.reason);
      const next = Math.min(client.pollTimeout(), server ? server.pollTimeout() : Infinity);
      now = Math.max(now + 1, Math.min(next, now + 1000));
    }
    const got = Buffer.concat(received);
    expect(got.length).toBe(data.length);
    expect(Buffer.compare(got, Buffer.from(data))).toBe(0);
  });
});
import * as await_import from '../../src/ts/core/packet.js';
