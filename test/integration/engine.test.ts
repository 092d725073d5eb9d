// Both engines on real loopback sockets: binding, batches, peers, sendAt, backpressure, sizes, pause, close.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nowUs } from '../../src/ts/endpoint/clock.js';
import { DgramEngine } from '../../src/ts/engine/dgram-engine.js';
import type { BoundInfo, Engine, EngineOpenOptions, RxBatch } from '../../src/ts/engine/engine.js';
import { loadNativeBinding } from '../../src/ts/engine/native-binding.js';
import { NativeEngine, type NativeEngineStats, type NativeEngineTuning } from '../../src/ts/engine/native-engine.js';

const native = loadNativeBinding();
if (!native.binding) console.warn(`[engine] native engine tests skipped: ${native.reason}`);
if (!native.binding) console.warn(`[engine tests] native engine skipped: ${native.reason}`);

type Kind = 'dgram' | 'native';
const kinds: Kind[] = native.binding ? ['dgram', 'native'] : ['dgram'];

function make(kind: Kind, tuning?: NativeEngineTuning): Engine {
  return kind === 'native' ? new NativeEngine(native.binding!, tuning) : new DgramEngine();
}

interface Got {
  peer: number;
  data: Buffer;
  now: number;
  at: number;
}

const open: Rig[] = [];

/** One engine plus what it received (copied) and how often it said writable. */
class Rig {
  readonly got: Got[] = [];
  writable = 0;
  readonly errors: Error[] = [];
  bound!: BoundInfo;
  private constructor(readonly engine: Engine) {}

  static async open(kind: Kind, o: Partial<EngineOpenOptions> = {}, tuning?: NativeEngineTuning): Promise<Rig> {
    const r = new Rig(make(kind, tuning));
    r.bound = await r.engine.open(
      { type: 'udp4', address: '127.0.0.1', maxDatagram: 1472, ...o },
      {
        onReceive: (b: RxBatch) => r.take(b),
        onWritable: () => r.writable++,
        onError: (e) => r.errors.push(e),
      },
    );
    open.push(r);
    return r;
  }

  private take(b: RxBatch): void {
    for (let i = 0; i < b.count; i++) {
      const off = b.offsets[i];
      const at = b.times ? b.times[i] : b.now;
      this.got.push({ peer: b.peers[i], data: Buffer.from(b.buf.subarray(off, off + b.lengths[i])), now: b.now, at });
    }
  }

  /** Queues datagrams to `peer` in order; returns how many fit before the queue was full. */
  send(peer: number, payloads: Buffer[], sendAt?: (i: number) => number): number {
    let i = 0;
    while (i < payloads.length) {
      const b = this.engine.txReserve();
      if (!b) break;
      while (i < payloads.length && b.count < b.capacity) {
        const k = b.count;
        payloads[i].copy(b.buf, k * b.stride);
        b.lengths[k] = payloads[i].length;
        b.peers[k] = peer;
        b.sendAt[k] = sendAt ? sendAt(i) : 0;
        b.count++;
        i++;
      }
      this.engine.txCommit(b);
    }
    return i;
  }

  peerTo(other: Rig): number {
    return this.engine.peer(other.bound.address, other.bound.port);
  }
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function payloads(n: number, size: number, tag: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(size, i & 0xff);
    b.writeUInt32BE(tag, 0);
    b.writeUInt32BE(i, 4);
    return b;
  });
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.engine.close()));
});

describe.each(kinds)('%s engine', (kind) => {
  it('binds IPv4 and reports the granted buffer sizes', async () => {
    const r = await Rig.open(kind, { sndBuf: 1 << 20, rcvBuf: 1 << 20 });
    expect(r.bound.family).toBe('IPv4');
    expect(r.bound.address).toBe('127.0.0.1');
    expect(r.bound.port).toBeGreaterThan(0);
    expect(r.bound.sndBufGranted).toBeGreaterThan(0);
    expect(r.bound.rcvBufGranted).toBeGreaterThan(0);
    const s = r.engine.stats();
    expect(s.engine).toBe(kind);
    expect(s.pacing).toBe(kind === 'native' ? 'thread' : 'burst');
    expect(s.rcvBufGranted).toBe(r.bound.rcvBufGranted);
  });

  it('binds IPv6 on ::1 and exchanges datagrams both ways', async () => {
    const a = await Rig.open(kind, { type: 'udp6', address: '::1', ipv6Only: true });
    const b = await Rig.open(kind, { type: 'udp6', address: '::1' });
    expect(a.bound.family).toBe('IPv6');
    expect(a.bound.address).toBe('::1');
    a.send(a.peerTo(b), [Buffer.from('ping6')]);
    await waitFor('ping', () => b.got.length === 1);
    expect(b.got[0].data.toString()).toBe('ping6');
    expect(b.engine.peerAddress(b.got[0].peer)).toEqual({ address: '::1', port: a.bound.port, family: 'IPv6' });
    b.send(b.got[0].peer, [Buffer.from('pong6')]);
    await waitFor('pong', () => a.got.length === 1);
    expect(a.got[0].data.toString()).toBe('pong6');
    expect(a.got[0].peer).toBe(a.peerTo(b));
  });

  it('carries batches with exact contents and order', async () => {
    const a = await Rig.open(kind);
    const b = await Rig.open(kind);
    const msgs = payloads(300, 1000, 7).concat(payloads(40, 100, 8));
    expect(a.send(a.peerTo(b), msgs)).toBe(msgs.length);
    await waitFor('all datagrams', () => b.got.length === msgs.length);
    b.got.forEach((g, i) => expect(g.data.equals(msgs[i])).toBe(true));
    const from = b.engine.peerAddress(b.got[0].peer);
    expect(from).toEqual({ address: '127.0.0.1', port: a.bound.port, family: 'IPv4' });
    expect(new Set(b.got.map((g) => g.peer)).size).toBe(1);
    expect(b.engine.peer('127.0.0.1', a.bound.port)).toBe(b.got[0].peer);
    const s = a.engine.stats();
    expect(s.datagramsSent).toBe(msgs.length);
    expect(s.sendErrors).toBe(0);
    expect(b.engine.stats().datagramsReceived).toBe(msgs.length);
  });

  it('gives many peers distinct handles and keeps order per peer', async () => {
    const rx = await Rig.open(kind);
    const senders = await Promise.all(Array.from({ length: 12 }, () => Rig.open(kind)));
    senders.forEach((s, k) => s.send(s.peerTo(rx), payloads(25, 200, k)));
    await waitFor('all peers', () => rx.got.length === 12 * 25);
    const byPeer = new Map<number, Got[]>();
    for (const g of rx.got) byPeer.set(g.peer, [...(byPeer.get(g.peer) ?? []), g]);
    expect(byPeer.size).toBe(12);
    for (const [h, list] of byPeer) {
      const k = list[0].data.readUInt32BE(0);
      expect(rx.engine.peerAddress(h).port).toBe(senders[k].bound.port);
      expect(rx.engine.peer('127.0.0.1', senders[k].bound.port)).toBe(h);
      expect(list.map((g) => g.data.readUInt32BE(4))).toEqual(Array.from({ length: 25 }, (_, i) => i));
    }
    const h0 = [...byPeer.keys()][0];
    rx.engine.releasePeer(h0);
    expect(rx.engine.peer('127.0.0.2', 9)).toBe(h0);
    expect(rx.engine.peerAddress(h0)).toEqual({ address: '127.0.0.2', port: 9, family: 'IPv4' });
  });

  it('maps IPv4 peers to v4-mapped handles on a dual-stack IPv6 socket', async () => {
    const v6 = await Rig.open(kind, { type: 'udp6', address: '::' });
    const v4 = await Rig.open(kind);
    v4.send(v4.engine.peer('127.0.0.1', v6.bound.port), [Buffer.from('mapped')]);
    await waitFor('mapped datagram', () => v6.got.length === 1);
    const h = v6.got[0].peer;
    expect(v6.engine.peerAddress(h)).toEqual({ address: '::ffff:127.0.0.1', port: v4.bound.port, family: 'IPv6' });
    expect(v6.engine.peer('127.0.0.1', v4.bound.port)).toBe(h);
    expect(v6.engine.peer('::FFFF:127.0.0.1', v4.bound.port)).toBe(h);
  });

  it('rejects addresses that do not fit the socket, with a code', async () => {
    const r = await Rig.open(kind);
    expect(() => r.engine.peer('::1', 1)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => r.engine.peer('example.com', 1)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => r.engine.peer('127.0.0.1', 0)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => r.engine.peer('127.0.0.1', 65536)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    const v6only = await Rig.open(kind, { type: 'udp6', address: '::1', ipv6Only: true });
    expect(() => v6only.engine.peer('127.0.0.1', 1)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
  });

  it('fails to bind a port in use with ERR_UDT_ENGINE_BIND', async () => {
    const r = await Rig.open(kind);
    const e = make(kind);
    const noop = { onReceive() {}, onWritable() {}, onError() {} };
    await expect(e.open({ type: 'udp4', address: '127.0.0.1', port: r.bound.port, maxDatagram: 1472 }, noop)).rejects.toMatchObject({
      code: 'ERR_UDT_ENGINE_BIND',
    });
  });

  it('never sends before sendAt', async () => {
    const a = await Rig.open(kind);
    const b = await Rig.open(kind);
    const t0 = nowUs() + 3000;
    const at = (i: number) => t0 + i * 700;
    const msgs = payloads(30, 500, 1);
    a.send(a.peerTo(b), msgs, at);
    await waitFor('paced datagrams', () => b.got.length === msgs.length);
    const late: number[] = [];
    b.got.forEach((g, i) => {
      expect(g.data.equals(msgs[i])).toBe(true);
      expect(g.now).toBeGreaterThanOrEqual(at(i) - 20);
      late.push(g.now - at(i));
    });
    late.sort((x, y) => x - y);
    console.log(`[${kind}] sendAt lateness at receiver (µs): p50 ${late[15].toFixed(0)} max ${late[29].toFixed(0)}`);
  });

  it('does not hold a due datagram behind one scheduled later', async () => {
    const a = await Rig.open(kind);
    const b = await Rig.open(kind);
    const c = await Rig.open(kind);
    const later = nowUs() + 60_000;
    a.send(a.peerTo(b), [Buffer.from('later')], () => later);
    const t0 = nowUs();
    a.send(a.peerTo(c), [Buffer.from('now-c')]);
    a.send(a.peerTo(b), [Buffer.from('now-b')]);
    await waitFor('due datagrams', () => c.got.length === 1 && b.got.length === 1);
    expect(b.got[0].data.toString()).toBe('now-b');
    expect(Math.max(b.got[0].now, c.got[0].now) - t0).toBeLessThan(30_000);
    await waitFor('scheduled datagram', () => b.got.length === 2);
    expect(b.got[1].data.toString()).toBe('later');
    expect(b.got[1].now).toBeGreaterThanOrEqual(later - 20);
  });

  it('applies backpressure and loses nothing', async () => {
    const a = await Rig.open(kind, { sndBuf: 8 << 20 });
    const b = await Rig.open(kind, { rcvBuf: 8 << 20 });
    const total = 4000;
    const msgs = payloads(total, 300, 3);
    const peer = a.peerTo(b);
    const hold = nowUs() + 30_000;
    let sent = a.send(peer, msgs.slice(0, total), (i) => (i < 64 * 40 ? hold : 0));
    expect(sent).toBeLessThan(total);
    expect(a.engine.txReserve()).toBeNull();
    expect(a.engine.txAvailable()).toBe(0);
    let rounds = 0;
    while (sent < total && rounds++ < 500) {
      const before = a.writable;
      await waitFor('onWritable', () => a.writable > before);
      expect(a.engine.txAvailable()).toBeGreaterThan(0);
      sent += a.send(peer, msgs.slice(sent));
    }
    expect(sent).toBe(total);
    await waitFor('every datagram', () => b.got.length === total, 5000);
    b.got.forEach((g, i) => expect(g.data.readUInt32BE(4)).toBe(i));
    expect(a.engine.stats().sendErrors).toBe(0);
  });

  it('carries 0-byte and maximum-size datagrams, and drops invalid entries with a count', async () => {
    const a = await Rig.open(kind, { maxDatagram: 65507 });
    const b = await Rig.open(kind, { maxDatagram: 65507 });
    const peer = a.peerTo(b);
    const big = Buffer.alloc(65507, 0x5a);
    big.writeUInt32BE(0xdeadbeef, 65503);
    a.send(peer, [Buffer.alloc(0), big, Buffer.from('after')]);
    await waitFor('sized datagrams', () => b.got.length === 3);
    expect(b.got.map((g) => g.data.length)).toEqual([0, 65507, 5]);
    expect(b.got[1].data.equals(big)).toBe(true);
    const batch = a.engine.txReserve()!;
    batch.lengths[0] = -1;
    batch.peers[0] = peer;
    batch.lengths[1] = 4;
    batch.peers[1] = 123456;
    batch.lengths[2] = 2;
    batch.peers[2] = peer;
    batch.buf.write('ok', 2 * batch.stride);
    batch.sendAt.fill(0, 0, 3);
    batch.count = 3;
    a.engine.txCommit(batch);
    await waitFor('valid entry', () => b.got.length === 4);
    expect(b.got[3].data.toString()).toBe('ok');
    expect(a.engine.stats().sendErrors).toBe(2);
  });

  it('gives each datagram a receive time no later than its batch', async () => {
    const a = await Rig.open(kind);
    const b = await Rig.open(kind);
    a.send(a.peerTo(b), payloads(100, 300, 1));
    await waitFor('timed datagrams', () => b.got.length === 100);
    b.got.forEach((g, i) => {
      expect(g.at).toBeLessThanOrEqual(g.now);
      expect(g.at).toBeGreaterThan(g.now - 1e6);
      if (i > 0) expect(g.at).toBeGreaterThanOrEqual(b.got[i - 1].at);
    });
  });

  it('delivers datagrams larger than maxDatagram whole (the consumer decides what is malformed)', async () => {
    const a = await Rig.open(kind, { maxDatagram: 9000 });
    const b = await Rig.open(kind);
    a.send(a.peerTo(b), [Buffer.alloc(3000, 1), Buffer.alloc(8000, 2)]);
    await waitFor('oversize datagrams', () => b.got.length === 2);
    expect(b.got.map((g) => g.data.length)).toEqual([3000, 8000]);
  });

  it('stops reading while paused and resumes without loss', async () => {
    const a = await Rig.open(kind);
    const b = await Rig.open(kind);
    b.engine.pauseReceive();
    a.send(a.peerTo(b), payloads(5, 50, 2));
    await new Promise((r) => setTimeout(r, 30));
    expect(b.got.length).toBe(0);
    b.engine.resumeReceive();
    await waitFor('resumed', () => b.got.length === 5);
  });

  it('closes while busy without crashing, and refuses work afterwards', async () => {
    const a = await Rig.open(kind);
    const b = await Rig.open(kind);
    const peer = a.peerTo(b);
    a.send(peer, payloads(1500, 1200, 4), (i) => (i % 2 ? nowUs() + 1000 : 0));
    b.send(b.peerTo(a), payloads(500, 1200, 5));
    const late = a.engine.txReserve();
    const closing = a.engine.close();
    expect(a.engine.close()).toBe(closing);
    if (late) {
      late.count = 1;
      expect(() => a.engine.txCommit(late)).not.toThrow();
    }
    await Promise.all([closing, b.engine.close()]);
    expect(a.engine.txReserve()).toBeNull();
    expect(a.engine.txAvailable()).toBe(0);
    const s = a.engine.stats() as { droppedOnClose?: number };
    console.log(`[${kind}] close while busy: sent ${a.engine.stats().datagramsSent}, dropped ${s.droppedOnClose ?? 0}`);
  });
});

describe.skipIf(!native.binding)('native engine specifics', () => {
  let gsoAvailable = false;
  beforeAll(async () => {
    const r = await Rig.open('native');
    gsoAvailable = (r.engine.stats() as NativeEngineStats).gso;
    await r.engine.close();
    open.splice(open.indexOf(r), 1);
  });

  it('uses GSO for runs of equal-size datagrams (loopback allowed) and splits GRO batches', async (ctx) => {
    if (!gsoAvailable) {
      console.warn('[engine] GSO test skipped: the kernel refused UDP_SEGMENT on this socket');
      ctx.skip();
    }
    const a = await Rig.open('native', {}, { gsoLoopback: true });
    const b = await Rig.open('native', {}, { gro: true });
    const msgs = payloads(200, 1200, 6);
    a.send(a.peerTo(b), msgs);
    await waitFor('gso datagrams', () => b.got.length === 200);
    b.got.forEach((g, i) => expect(g.data.equals(msgs[i])).toBe(true));
    const s = a.engine.stats() as NativeEngineStats;
    expect(s.sendPath).toBe('gso');
    expect(s.gsoCalls).toBeGreaterThan(0);
    expect(s.sendCalls).toBeLessThan(20);
    const r = b.engine.stats() as NativeEngineStats;
    expect(r.gro).toBe(true);
    console.log(`[native] 200 datagrams in ${s.sendCalls} send calls (${s.gsoCalls} GSO runs); receiver split ${r.groSegmented} GRO datagrams`);
  });

  it('uses GSO and GRO towards loopback peers by default, and not when told not to', async (ctx) => {
    if (!gsoAvailable) {
      console.warn('[engine] GSO test skipped: the kernel refused UDP_SEGMENT on this socket');
      ctx.skip();
    }
    const a = await Rig.open('native');
    const b = await Rig.open('native');
    a.send(a.peerTo(b), payloads(200, 1200, 6));
    await waitFor('datagrams', () => b.got.length === 200);
    expect((a.engine.stats() as NativeEngineStats).gsoCalls).toBeGreaterThan(0);
    expect((b.engine.stats() as NativeEngineStats).gro).toBe(true);
    const c = await Rig.open('native', {}, { gsoLoopback: false });
    const d = await Rig.open('native', {}, { gro: false });
    c.send(c.peerTo(d), payloads(200, 1200, 6));
    await waitFor('datagrams', () => d.got.length === 200);
    const s = c.engine.stats() as NativeEngineStats;
    expect(s.gsoCalls).toBe(0);
    expect(s.sendCalls).toBeLessThan(200);
    expect((d.engine.stats() as NativeEngineStats).gro).toBe(false);
  });

  it('stamps each datagram with its kernel arrival time, even when read in one batch', async () => {
    const a = await Rig.open('native');
    const b = await Rig.open('native');
    b.engine.pauseReceive();
    // Sent one at a time from here, 3 ms apart: a late pacer would otherwise send them together (one GSO send).
    for (const p of payloads(5, 100, 3)) {
      a.send(a.peerTo(b), [p]);
      await new Promise((r) => setTimeout(r, 3));
    }
    await new Promise((r) => setTimeout(r, 10));
    b.engine.resumeReceive();
    await waitFor('batched datagrams', () => b.got.length === 5);
    expect(new Set(b.got.map((g) => g.now)).size).toBe(1);
    for (let i = 1; i < 5; i++) expect(b.got[i].at - b.got[i - 1].at).toBeGreaterThan(1500);
  });

  it.each(['sendmmsg', 'sendmsg'] as const)('falls back to %s when told to', async (path) => {
    const a = await Rig.open('native', {}, { sendPath: path, gsoLoopback: true });
    const b = await Rig.open('native', {}, { gro: false });
    const msgs = payloads(100, 800, 9);
    a.send(a.peerTo(b), msgs);
    await waitFor('fallback datagrams', () => b.got.length === 100);
    b.got.forEach((g, i) => expect(g.data.equals(msgs[i])).toBe(true));
    const s = a.engine.stats() as NativeEngineStats;
    expect(s.sendPath).toBe(path);
    expect(s.gsoCalls).toBe(0);
    expect((b.engine.stats() as NativeEngineStats).gro).toBe(false);
    if (path === 'sendmsg') expect(s.sendCalls).toBe(100);
    else expect(s.sendCalls).toBeLessThan(100);
  });

  it('takes the send path cap from UDT_SEND_PATH', async () => {
    process.env.UDT_SEND_PATH = 'sendmsg';
    try {
      const a = await Rig.open('native');
      expect(a.engine.stats().sendPath).toBe('sendmsg');
    } finally {
      delete process.env.UDT_SEND_PATH;
    }
  });

  it('sends a lone due datagram inline from the JS thread when the pacer is idle', async () => {
    const a = await Rig.open('native');
    const b = await Rig.open('native');
    a.send(a.peerTo(b), [Buffer.from('now')]);
    expect((a.engine.stats() as NativeEngineStats).inlineSent).toBe(1);
    await waitFor('inline datagram', () => b.got.length === 1);
  });

  it('paces through its thread and reports lateness', async () => {
    const a = await Rig.open('native');
    const b = await Rig.open('native');
    const t0 = nowUs() + 1000;
    a.send(a.peerTo(b), payloads(200, 1000, 1), (i) => t0 + i * 50);
    await waitFor('paced run', () => b.got.length === 200);
    await waitFor('send stats', () => a.engine.stats().datagramsSent === 200);
    const s = a.engine.stats() as NativeEngineStats;
    expect(s.pacedCount + s.inlineSent).toBe(200);
    console.log(`[native] 200 datagrams at 50 µs spacing: ${s.pacedCount} by the pacer, lateness avg ${s.pacedLateAvgUs.toFixed(1)} µs, max ${s.pacedLateMaxUs} µs`);
  });
});
