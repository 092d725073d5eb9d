// LossyRelay on real loopback sockets: counters add up, seeded loss rate and repeatability, reordering, stop.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { LossyRelay, type LossyRelayOptions } from '../support/lossy-relay.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Endpoint {
  socket: dgram.Socket;
  port: number;
  received: number[];
}

const open: (dgram.Socket | LossyRelay)[] = [];

/** A socket that records the 32-bit sequence number at the start of each datagram it receives. */
async function endpoint(type: 'udp4' | 'udp6' = 'udp4', echo = false): Promise<Endpoint> {
  const socket = dgram.createSocket(type);
  open.push(socket);
  const received: number[] = [];
  socket.on('message', (msg, from) => {
    received.push(msg.readUInt32BE(0));
    if (echo) socket.send(msg, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, type === 'udp6' ? '::1' : '127.0.0.1', r));
  return { socket, port: socket.address().port, received };
}

async function relayTo(target: Endpoint, opts: Omit<LossyRelayOptions, 'target'>, host = '127.0.0.1') {
  const relay = new LossyRelay({ target: { host, port: target.port }, ...opts });
  open.push(relay);
  return { relay, port: await relay.start() };
}

/** Sends `count` numbered datagrams in bursts of 20, yielding between bursts so timers and receives run. */
async function sendNumbered(from: Endpoint, port: number, count: number, host = '127.0.0.1'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const msg = Buffer.alloc(64);
    msg.writeUInt32BE(i, 0);
    from.socket.send(msg, port, host);
    if (i % 20 === 19) await sleep(1);
  }
}

async function until(check: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(5);
}

afterEach(async () => {
  for (const item of open.splice(0)) {
    if (item instanceof LossyRelay) await item.stop();
    else item.close();
  }
});

describe('LossyRelay', () => {
  it('forwards everything unchanged and in order when no impairment is set', async () => {
    const target = await endpoint();
    const client = await endpoint();
    const { relay, port } = await relayTo(target, { seed: 1 });
    await sendNumbered(client, port, 300);
    await until(() => target.received.length === 300);
    expect(target.received).toEqual([...Array(300).keys()]);
    expect(relay.stats().toTarget).toMatchObject({ received: 300, forwarded: 300, dropped: 0, duplicated: 0 });
  });

  it('keeps its counters consistent with what arrives, in both directions', async () => {
    const target = await endpoint('udp4', true);
    const client = await endpoint();
    const impairment = { loss: 0.1, dupRate: 0.1, reorderRate: 0.1, reorderDelayMs: [1, 5] as const };
    const { relay, port } = await relayTo(target, { seed: 7, ...impairment });
    await sendNumbered(client, port, 1000);
    const settled = () => {
      const now = relay.stats();
      const echoedAll = now.toClient.received === now.toTarget.forwarded && target.received.length === now.toTarget.forwarded;
      return now.toTarget.received === 1000 && now.queued === 0 && echoedAll && client.received.length === now.toClient.forwarded;
    };
    await until(settled);
    const s = relay.stats();
    for (const dir of [s.toTarget, s.toClient]) {
      expect(dir.forwarded + dir.overflowed).toBe(dir.received - dir.dropped + dir.duplicated);
      expect(dir.dropped).toBeGreaterThan(0);
      expect(dir.duplicated).toBeGreaterThan(0);
      expect(dir.reordered).toBeGreaterThan(0);
    }
    expect(s.toTarget.received).toBe(1000);
    expect(target.received.length).toBe(s.toTarget.forwarded);
    expect(s.toClient.received).toBe(s.toTarget.forwarded);
    expect(client.received.length).toBe(s.toClient.forwarded);
    expect(s.clients).toBe(1);
  });

  it('drops close to the configured rate and repeats the same pattern for the same seed', async () => {
    const runOnce = async (seed: number) => {
      const target = await endpoint();
      const client = await endpoint();
      const { relay, port } = await relayTo(target, { seed, loss: 0.2 });
      await sendNumbered(client, port, 2000);
      await until(() => target.received.length === relay.stats().toTarget.forwarded && relay.stats().toTarget.received === 2000);
      return { stats: relay.stats().toTarget, delivered: [...target.received] };
    };
    const a = await runOnce(42);
    const b = await runOnce(42);
    const c = await runOnce(43);
    // Binomial(2000, 0.2): mean 400, sd ≈ 17.9; ±5 sd.
    expect(a.stats.dropped).toBeGreaterThan(310);
    expect(a.stats.dropped).toBeLessThan(490);
    expect(b.delivered).toEqual(a.delivered);
    expect(c.delivered).not.toEqual(a.delivered);
  });

  it('really reorders: held datagrams arrive after later ones, none lost', async () => {
    const target = await endpoint();
    const client = await endpoint();
    const { relay, port } = await relayTo(target, { seed: 3, reorderRate: 0.2, reorderDelayMs: [3, 15] });
    await sendNumbered(client, port, 600);
    await until(() => target.received.length === 600);
    const inversions = target.received.filter((seq, i) => i > 0 && seq < target.received[i - 1]).length;
    expect(relay.stats().toTarget.reordered).toBeGreaterThan(60);
    expect(inversions).toBeGreaterThan(20);
    expect([...target.received].sort((x, y) => x - y)).toEqual([...Array(600).keys()]);
  });

  it('impairs each direction on its own settings', async () => {
    const target = await endpoint('udp4', true);
    const client = await endpoint();
    const { relay, port } = await relayTo(target, { seed: 5, toTarget: { loss: 0 }, toClient: { loss: 0.5 } });
    await sendNumbered(client, port, 400);
    await until(() => target.received.length === 400 && client.received.length === relay.stats().toClient.forwarded);
    const s = relay.stats();
    expect(s.toTarget.dropped).toBe(0);
    expect(s.toClient.dropped).toBeGreaterThan(140);
    expect(s.toClient.dropped).toBeLessThan(260);
  });

  it('serves several clients through separate upstream sockets', async () => {
    const target = await endpoint('udp4', true);
    const clients = await Promise.all([endpoint(), endpoint(), endpoint()]);
    const { relay, port } = await relayTo(target, { seed: 9 });
    await Promise.all(clients.map((c) => sendNumbered(c, port, 50)));
    await until(() => clients.every((c) => c.received.length === 50));
    for (const c of clients) expect(c.received).toEqual([...Array(50).keys()]);
    expect(relay.stats().clients).toBe(3);
  });

  it('works over IPv6', async () => {
    const target = await endpoint('udp6');
    const client = await endpoint('udp6');
    const { port } = await relayTo(target, { seed: 2 }, '::1');
    await sendNumbered(client, port, 40, '::1');
    await until(() => target.received.length === 40);
    expect(target.received).toEqual([...Array(40).keys()]);
  });

  it('caps the datagrams it holds back and counts the overflow', async () => {
    const target = await endpoint();
    const client = await endpoint();
    const { relay, port } = await relayTo(target, { seed: 4, delayMs: 200, maxQueued: 50 });
    await sendNumbered(client, port, 120);
    await until(() => relay.stats().toTarget.received === 120);
    expect(relay.stats().queued).toBeLessThanOrEqual(50);
    expect(relay.stats().toTarget.overflowed).toBe(70);
    await until(() => target.received.length === 50);
    expect(target.received.length).toBe(50);
  });

  it('forwards nothing after stop, including datagrams it was still holding', async () => {
    const target = await endpoint();
    const client = await endpoint();
    const { relay, port } = await relayTo(target, { seed: 6, delayMs: 100 });
    await sendNumbered(client, port, 30);
    await until(() => relay.stats().toTarget.received === 30);
    expect(relay.stats().queued).toBe(30);
    await relay.stop();
    await sendNumbered(client, port, 30);
    await sleep(250);
    expect(target.received).toEqual([]);
    expect(relay.stats().toTarget.forwarded).toBe(0);
  });

  it('rejects rates outside [0, 1]', () => {
    expect(() => new LossyRelay({ target: { host: '127.0.0.1', port: 9 }, loss: 1.5 })).toThrow(RangeError);
  });
});
