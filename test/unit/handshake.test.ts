// Handshake state machines (client, rendezvous), the cookie listener, and full exchanges through the simulator.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/ts/core/config.js';
import { ClientHandshake, RendezvousHandshake, type HandshakeLocal } from '../../src/ts/core/handshake.js';
import { COOKIE_BUCKET_US, Listener } from '../../src/ts/core/listener.js';
import { decodePacket, encodePacket, ipToBytes, ReqType, type Handshake } from '../../src/ts/core/packet.js';
import { CLIENT_ADDR, createPair, Network, SERVER_ADDR, UdtHost } from '../../src/ts/sim/index.js';

const local = (socketId: number, isn: number): HandshakeLocal => ({
  socketId,
  isn,
  sockType: 1,
  mss: 1500,
  flowWindow: 8192,
  peerIp: ipToBytes('10.0.0.2'),
});

describe('ClientHandshake', () => {
  it('1 -> challenge -> -1 with the cookie -> response establishes', () => {
    const c = new ClientHandshake(local(77, 1234));
    expect(c.request()).toMatchObject({ version: 4, reqType: 1, cookie: 0, socketId: 77, isn: 1234 });
    expect(c.destination).toBe(0);
    const challenge: Handshake = { ...c.request(), cookie: 0x7248b947 };
    expect(c.onHandshake(challenge)).toEqual({ kind: 'resend' });
    expect(c.request()).toMatchObject({ reqType: -1, cookie: 0x7248b947 });
    const response: Handshake = { ...c.request(), socketId: 99, mss: 1400, flowWindow: 25600 };
    expect(c.onHandshake(response)).toEqual({
      kind: 'established',
      peer: { peerSocketId: 99, peerIsn: 1234, mss: 1400, peerFlowWindow: 25600 },
    });
  });

  it('a response whose ISN differs from ours fails with security', () => {
    const c = new ClientHandshake(local(77, 1234));
    c.onHandshake({ ...c.request(), cookie: 5 });
    expect(c.onHandshake({ ...c.request(), socketId: 99, isn: 1235 })).toEqual({ kind: 'failed', reason: 'security' });
  });

  it('a 1002 reject fails with rejected', () => {
    const c = new ClientHandshake(local(77, 1234));
    expect(c.onHandshake({ ...c.request(), reqType: ReqType.Rejected })).toEqual({ kind: 'failed', reason: 'rejected' });
  });

  it('ignores a challenge for another socket id and a response before the challenge', () => {
    const c = new ClientHandshake(local(77, 1234));
    expect(c.onHandshake({ ...c.request(), socketId: 78, cookie: 5 })).toEqual({ kind: 'ignore' });
    expect(c.onHandshake({ ...c.request(), reqType: -1, socketId: 99 })).toEqual({ kind: 'ignore' });
    expect(c.request().reqType).toBe(1);
  });
});

describe('RendezvousHandshake', () => {
  function exchange(first: 'a' | 'b'): void {
    const a = new RendezvousHandshake(local(11, 500));
    const b = new RendezvousHandshake(local(22, 900));
    expect(a.request()).toMatchObject({ reqType: 0, socketId: 11 });
    expect(a.destination).toBe(0);
    const [x, y] = first === 'a' ? [a, b] : [b, a];
    // x hears y's type 0 first: switches to -1 and learns y's id.
    expect(x.onHandshake(y.request())).toEqual({ kind: 'resend' });
    expect(x.request().reqType).toBe(-1);
    expect(x.destination).toBe(y.local.socketId);
    // y hears x's -1 while still at 0: switches too.
    expect(y.onHandshake(x.request())).toEqual({ kind: 'resend' });
    // Now both at -1: each connects on the other's -1.
    const yOut = x.onHandshake(y.request());
    const xOut = y.onHandshake(x.request());
    expect(yOut).toEqual({ kind: 'established', peer: { peerSocketId: y.local.socketId, peerIsn: y.local.isn, mss: 1500, peerFlowWindow: 8192 } });
    expect(xOut).toEqual({ kind: 'established', peer: { peerSocketId: x.local.socketId, peerIsn: x.local.isn, mss: 1500, peerFlowWindow: 8192 } });
  }
  it('0/-1 exchange, a first', () => exchange('a'));
  it('0/-1 exchange, b first', () => exchange('b'));

  it('a connected peer answering -2 completes a -1 side; regular requests are ignored', () => {
    const a = new RendezvousHandshake(local(11, 500));
    expect(a.onHandshake({ ...a.request(), reqType: 1, socketId: 5 })).toEqual({ kind: 'ignore' });
    expect(a.onHandshake({ ...a.request(), reqType: 0, socketId: 5 })).toEqual({ kind: 'resend' });
    const out = a.onHandshake({ ...a.request(), reqType: -2, socketId: 5, version: 0 });
    expect(out).toMatchObject({ kind: 'established', peer: { peerSocketId: 5 } });
  });
});

describe('Listener cookies', () => {
  const secret = new Uint8Array(32).fill(3);
  const req = (cookie: number, reqType = -1): Handshake => ({
    version: 4,
    sockType: 1,
    isn: 42,
    mss: 1500,
    flowWindow: 8192,
    reqType,
    socketId: 1001,
    cookie,
    peerIp: ipToBytes('10.0.0.2'),
  });

  it('challenges a type-1 request by echoing it with a cookie', () => {
    const l = new Listener({ sockType: 1, startTime: 0, secret });
    const d = l.handle(1000, req(0, 1), '10.0.0.1', 4000);
    if (d.kind !== 'reply') throw new Error(d.kind);
    expect(d.dst).toBe(1001);
    expect(d.reject).toBe(false);
    expect(d.response).toEqual({ ...req(0, 1), cookie: l.cookie('10.0.0.1', 4000, 0) });
  });

  it('accepts the current and the previous bucket, nothing older and no wrong cookie', () => {
    const l = new Listener({ sockType: 1, startTime: 0, secret });
    const now = 2 * COOKIE_BUCKET_US + 5;
    expect(l.handle(now, req(l.cookie('10.0.0.1', 4000, 2)), '10.0.0.1', 4000).kind).toBe('accept');
    expect(l.handle(now, req(l.cookie('10.0.0.1', 4000, 1)), '10.0.0.1', 4000).kind).toBe('accept');
    expect(l.handle(now, req(l.cookie('10.0.0.1', 4000, 0)), '10.0.0.1', 4000)).toEqual({ kind: 'ignore', reason: 'bad-cookie' });
    const good = l.cookie('10.0.0.1', 4000, 2);
    expect(l.handle(now, req(good ^ 1), '10.0.0.1', 4000)).toEqual({ kind: 'ignore', reason: 'bad-cookie' });
    expect(l.handle(now, req(good), '10.0.0.1', 4001)).toEqual({ kind: 'ignore', reason: 'bad-cookie' });
    expect(l.handle(now, req(good), '10.0.0.9', 4000)).toEqual({ kind: 'ignore', reason: 'bad-cookie' });
    expect(l.badCookies).toBe(4);
  });

  it('rejects a verified request of the wrong version or socket type with 1002; ignores rendezvous requests', () => {
    const l = new Listener({ sockType: 2, startTime: 0, secret });
    const c = l.cookie('10.0.0.1', 4000, 0);
    const d = l.handle(10, req(c), '10.0.0.1', 4000);
    expect(d).toMatchObject({ kind: 'reply', reject: true, dst: 1001, response: { reqType: 1002 } });
    expect(l.handle(10, { ...req(c), sockType: 2, version: 5 }, '10.0.0.1', 4000)).toMatchObject({ kind: 'reply', reject: true });
    expect(l.handle(10, req(0, 0), '10.0.0.1', 4000)).toEqual({ kind: 'ignore', reason: 'rendezvous' });
  });

  it('different secrets give different cookies', () => {
    const a = new Listener({ sockType: 1, startTime: 0, secret });
    const b = new Listener({ sockType: 1, startTime: 0, secret: new Uint8Array(32).fill(4) });
    expect(a.cookie('10.0.0.1', 4000, 0)).not.toBe(b.cookie('10.0.0.1', 4000, 0));
  });
});

describe('handshakes through the simulator', () => {
  it('client and listener connect; the server echoes the client ISN; repeated requests get the same response', () => {
    const pair = createPair({ seed: 9, link: { delayUs: 10_000 }, isn: 0x7ffffff0 });
    const hs: Handshake[] = [];
    pair.net.tamper = (_now, from, _to, data) => {
      const p = decodePacket(data);
      if (p.kind === 'handshake' && from === SERVER_ADDR) hs.push(p.hs);
      return data;
    };
    pair.net.run({ until: 1_000_000 });
    const server = pair.server()!;
    expect(pair.client.conn.state).toBe('connected');
    expect(server.conn.state).toBe('connected');
    expect(pair.client.conn.peerSocketId).toBe(server.conn.localSocketId);
    expect(server.conn.peerSocketId).toBe(pair.client.conn.localSocketId);
    const response = hs.find((h) => h.reqType === -1)!;
    expect(response.isn).toBe(0x7ffffff0);
    expect(response.socketId).toBe(server.conn.localSocketId);
    expect(pair.serverHost.connections.length).toBe(1);
  });

  it('a response with a changed ISN fails the client with security', () => {
    const pair = createPair({ seed: 9, link: { delayUs: 10_000 } });
    pair.net.tamper = (_now, from, _to, data) => {
      const p = decodePacket(data);
      if (p.kind === 'handshake' && from === SERVER_ADDR && p.hs.reqType === -1) {
        return encodePacket({ ...p, hs: { ...p.hs, isn: (p.hs.isn + 1) & 0x7fffffff } });
      }
      return data;
    };
    pair.net.run({ until: 1_000_000 });
    expect(pair.client.closeReason).toBe('security');
    expect(pair.client.closeError?.code).toBe('ERR_UDT_SECURITY');
  });

  it('a stream client to a message listener is rejected (1002)', () => {
    const pair = createPair({ seed: 9, link: { delayUs: 10_000 }, serverOptions: { mode: 'message' } });
    pair.net.run({ until: 1_000_000 });
    expect(pair.client.closeReason).toBe('rejected');
    expect(pair.serverHost.connections.length).toBe(0);
    expect(pair.serverHost.listener!.rejects).toBeGreaterThan(0);
  });

  it('a -1 request with a wrong cookie never connects; the client times out', () => {
    const pair = createPair({ seed: 9, link: { delayUs: 10_000 } });
    pair.net.tamper = (_now, from, _to, data) => {
      const p = decodePacket(data);
      if (p.kind === 'handshake' && from === CLIENT_ADDR && p.hs.reqType === -1) {
        return encodePacket({ ...p, hs: { ...p.hs, cookie: p.hs.cookie ^ 0x10 } });
      }
      return data;
    };
    pair.net.run({ until: 10_000_000 });
    expect(pair.client.closeReason).toBe('connect-timeout');
    expect(pair.serverHost.connections.length).toBe(0);
    expect(pair.serverHost.listener!.badCookies).toBeGreaterThan(5);
  });

  it('rendezvous: both sides connect, whichever starts first, and data flows both ways', () => {
    for (const delayB of [0, 120_000, 400_000]) {
      const net = new Network({ seed: 4 });
      const A = 'a:1';
      const B = 'b:1';
      net.setPath(A, B, { delayUs: 15_000 });
      const ha = new UdtHost(net, A, { seed: 1 });
      const hb = new UdtHost(net, B, { seed: 2 });
      const ca = ha.rendezvous(B, resolveConfig({ seed: 1 }, true));
      let cb: ReturnType<UdtHost['rendezvous']> | null = null;
      net.schedule(delayB, () => {
        cb = hb.rendezvous(A, resolveConfig({ seed: 2 }, true));
      });
      const got = { a: 0, b: 0 };
      const app = (key: 'a' | 'b') => ({
        onService(hc: typeof ca, now: number) {
          if (hc.conn.state === 'connected' && !hc.app.sent) {
            hc.app.sent = true;
            expect(hc.conn.write(new Uint8Array(5000).fill(key === 'a' ? 1 : 2), now)).toBe(5000);
          }
          let d;
          while ((d = hc.conn.read())) {
            expect(d.every((v) => v === (key === 'a' ? 2 : 1))).toBe(true);
            got[key] += d.length;
          }
        },
      });
      ha.app = app('a');
      hb.app = app('b');
      net.run({ until: 3_000_000 });
      expect(ca.conn.state).toBe('connected');
      expect(cb!.conn.state).toBe('connected');
      expect(ca.conn.peerSocketId).toBe(cb!.conn.localSocketId);
      expect(got).toEqual({ a: 5000, b: 5000 });
      expect(ha.spinCount + hb.spinCount).toBe(0);
    }
  });
});
