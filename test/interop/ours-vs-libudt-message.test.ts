// Message mode against the real libudt 4.11: boundaries 1 B…1 MB both ways, in-order flag, TTL drops through a lossy relay.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerOptions, UdtSocket } from '../../src/ts/api/index.js';
import { buildUdtPeer, expectCleanExit, killAllUdtPeers, skipWithoutLibudt, spawnUdtPeer, startUdtListener, type UdtPeer } from '../support/libudt.js';
import type { LossyRelay } from '../support/lossy-relay.js';
import {
  closed,
  connectOurs,
  decodeMessages,
  encodeMessages,
  impairedRelay,
  listenOurs,
  MB,
  sleep,
  within,
  type Impairments,
  type OurRole,
} from '../support/interop.js';

const skip = skipWithoutLibudt('ours-vs-libudt message');
const LOCAL = '127.0.0.1';
const MAX_TIME = ['--max-time', '60'];

/** Messages of the given sizes (≥ 4 bytes), each starting with its index (big-endian) so a receiver can identify it. */
function indexedMessages(sizes: number[]): Buffer[] {
  return sizes.map((n, i) => {
    const m = randomBytes(n);
    m.writeUInt32BE(i);
    return m;
  });
}

/** Sends every message, `perTick` at a time with a pause between groups, honouring backpressure. */
async function sendMessages(s: UdtSocket, messages: Buffer[], opts: { ttl?: number; inOrder?: boolean; perTick?: number; pauseMs?: number } = {}) {
  for (let i = 0; i < messages.length; i++) {
    if (!s.sendMessage(messages[i], { ttl: opts.ttl, inOrder: opts.inOrder })) await once(s, 'drain');
    if (opts.perTick && (i + 1) % opts.perTick === 0) await sleep(opts.pauseMs ?? 1);
  }
}

/** Checks each delivered message against what was sent; returns the indexes in delivery order. */
function identify(delivered: Buffer[], sent: Buffer[]): number[] {
  return delivered.map((m) => {
    const idx = m.length >= 4 ? m.readUInt32BE(0) : -1;
    if (!(idx >= 0 && idx < sent.length) || !m.equals(sent[idx])) {
      throw new Error(`delivered a message of ${m.length} bytes that matches no sent message (index field ${idx}): corrupt data`);
    }
    return idx;
  });
}

const inversions = (order: number[]) => order.filter((v, i) => i > 0 && v < order[i - 1]).length;

interface Session {
  socket: UdtSocket;
  peer: UdtPeer;
  relay?: LossyRelay;
}

/** Connects our message-mode socket and a `udtpeer --dgram` in the given roles, optionally through a relay. */
async function session(ours: OurRole, libudtArgs: string[], impairments?: Impairments, ourOptions: ServerOptions = {}): Promise<Session> {
  let relay: LossyRelay | undefined;
  const front = async (port: number) => {
    if (!impairments) return port;
    relay = impairedRelay({ host: LOCAL, port }, impairments);
    return relay.start();
  };
  if (ours === 'client') {
    const { peer, port } = await startUdtListener(['--host', LOCAL, '--port', '0', '--dgram', ...MAX_TIME, ...libudtArgs]);
    return { socket: await connectOurs({ ...ourOptions, host: LOCAL, port: await front(port), mode: 'message' }), peer, relay };
  }
  const { server, port } = await listenOurs({ ...ourOptions, mode: 'message' });
  const accepted = once(server, 'connection') as Promise<[UdtSocket]>;
  const peer = await spawnUdtPeer(['connect', '--host', LOCAL, '--port', String(await front(port)), '--dgram', ...MAX_TIME, ...libudtArgs]);
  const [socket] = await within(accepted, 10_000, 'accept');
  server.close();
  return { socket, peer, relay };
}

/** Collects messages and drop reports until the peer closes. */
function gather(s: UdtSocket): { messages: Buffer[]; drops: number[]; ended: Promise<Error | null> } {
  const messages: Buffer[] = [];
  const drops: number[] = [];
  s.on('message', (m: Buffer) => messages.push(m));
  s.on('messageDropped', (d: { msgNo: number }) => drops.push(d.msgNo));
  return { messages, drops, ended: closed(s) };
}

describe.skipIf(skip)('ours ↔ libudt 4.11: message mode', () => {
  let dir: string;

  beforeAll(async () => {
    await buildUdtPeer();
    dir = await mkdtemp(join(tmpdir(), 'udt-interop-msg-'));
  });

  afterEach(killAllUdtPeers);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const SIZES = [1, 2, 3, 100, 1455, 1456, 1457, 2912, 2913, 4096, 65_535, 65_536, 100_000, 1_000_000, MB];

  it('our client → libudt listener → echoed back: 1 B … 1 MB keep their boundaries both ways', async () => {
    const sizes = [...SIZES, ...Array.from({ length: 30 }, () => 1 + Math.floor(Math.random() * 150_000))];
    const messages = sizes.map((n) => randomBytes(n));
    const { socket, peer } = await session('client', ['--echo']);
    const got = gather(socket);
    await sendMessages(socket, messages);
    await within(
      (async () => {
        while (got.messages.length < messages.length && !socket.destroyed) await sleep(10);
      })(),
      30_000,
      'echoes',
    );
    socket.end();
    expect(await within(got.ended, 10_000, 'close')).toBeNull();
    const [done] = await expectCleanExit(peer);
    expect(got.messages.map((m) => m.length)).toEqual(sizes);
    got.messages.forEach((m, i) => expect(m.equals(messages[i])).toBe(true));
    expect(done.msgsRecv).toBe(messages.length);
    expect(got.drops).toEqual([]);
  });

  it('libudt client → our listener → echoed back: 1 B … 1 MB keep their boundaries both ways', async () => {
    const sizes = [...SIZES, ...Array.from({ length: 30 }, () => 1 + Math.floor(Math.random() * 150_000))];
    const messages = sizes.map((n) => randomBytes(n));
    const sent = join(dir, 'echo-sent.bin');
    const echoed = join(dir, 'echo-back.bin');
    await writeFile(sent, encodeMessages(messages));
    // libudt closes 200 ms after the last echo arrived: closing at once, it could SHUTDOWN before its ACK timer
    // acknowledged that echo, and our side rightly reports data the peer never confirmed (failed 1 run in 6).
    const { socket, peer } = await session('server', ['--send', sent, '--recv', echoed, '--expect-msgs', String(messages.length), '--close-wait', '200']);
    let count = 0;
    socket.on('message', (m: Buffer) => {
      count++;
      socket.sendMessage(m);
    });
    const ended = closed(socket);
    const [done] = await expectCleanExit(peer);
    expect(await within(ended, 10_000, 'our socket closing')).toBeNull();
    expect(count).toBe(messages.length);
    expect(done.msgsRecv).toBe(messages.length);
    expect(decodeMessages(await readFile(echoed)).map((m) => m.length)).toEqual(sizes);
    expect((await readFile(echoed)).equals(await readFile(sent))).toBe(true);
  });

  // 8% loss each way and 5 ms one-way delay: holes last long enough for later one-packet messages to complete, so
  // O=0 can be seen working.
  const LOSSY = { seed: 5, loss: 0.08, delayMs: 5 };
  // Our sender paces at a fixed rate here: UDT's native CC often drops to ~15-100 packets/s for seconds on early
  // losses (see docs/INTEROP.md), which would only slow these tests; the loss suite runs the native CC.
  const FIXED: ServerOptions = { congestion: 'fixed', maxBandwidth: 4 * MB };
  const N_ORDER = 1500;

  it.each([true, false])('in-order flag %s: ours → libudt (both roles) through 8 percent loss, all delivered exact', async (inOrder) => {
    let overtaken = 0;
    for (const ours of ['client', 'server'] as const) {
      const messages = indexedMessages(Array.from({ length: N_ORDER }, (_, i) => 8 + ((i * 97) % 1400)));
      const out = join(dir, `order-${inOrder}-${ours}.bin`);
      const { socket, peer, relay } = await session(ours, ['--recv', out], LOSSY, FIXED);
      try {
        const ended = closed(socket);
        await sendMessages(socket, messages, { inOrder });
        socket.end();
        expect(await within(ended, 30_000, 'close')).toBeNull();
        await expectCleanExit(peer, 30_000);
        const order = identify(decodeMessages(await readFile(out)), messages);
        console.log(`[interop msg] inOrder=${inOrder}, ours as ${ours} → libudt: ${order.length}/${N_ORDER} delivered, ${inversions(order)} out of order; relay ${JSON.stringify(relay!.stats().toTarget)}`);
        expect([...order].sort((a, b) => a - b)).toEqual(messages.map((_, i) => i));
        if (inOrder) expect(inversions(order)).toBe(0);
        overtaken += inversions(order);
      } finally {
        await relay?.stop();
      }
    }
    // A message without the in-order flag is handed over as soon as it is complete, before earlier holes fill.
    if (!inOrder) expect(overtaken).toBeGreaterThan(0);
  });

  it.each([true, false])('in-order flag %s: libudt → ours (both roles) through 8 percent loss, all delivered exact', async (inOrder) => {
    let overtaken = 0;
    for (const ours of ['client', 'server'] as const) {
      const messages = indexedMessages(Array.from({ length: N_ORDER }, (_, i) => 8 + ((i * 97) % 1400)));
      const file = join(dir, `order-src-${inOrder}-${ours}.bin`);
      await writeFile(file, encodeMessages(messages));
      const { socket, peer, relay } = await session(ours, ['--send', file, '--inorder', inOrder ? '1' : '0'], LOSSY);
      try {
        const got = gather(socket);
        await expectCleanExit(peer, 30_000);
        expect(await within(got.ended, 10_000, 'close')).toBeNull();
        const order = identify(got.messages, messages);
        console.log(`[interop msg] inOrder=${inOrder}, libudt → ours as ${ours}: ${order.length}/${N_ORDER} delivered, ${inversions(order)} out of order`);
        expect([...order].sort((a, b) => a - b)).toEqual(messages.map((_, i) => i));
        if (inOrder) expect(inversions(order)).toBe(0);
        overtaken += inversions(order);
        expect(got.drops).toEqual([]);
      } finally {
        await relay?.stop();
      }
    }
    // A message without the in-order flag is handed over as soon as it is complete, before earlier holes fill.
    if (!inOrder) expect(overtaken).toBeGreaterThan(0);
  });

  // 20 ms one way: a retransmission comes ≥ 40 ms after the original, past a 15 ms TTL, so every loss expires a message.
  const EXPIRING = { seed: 9, delayMs: 20, toTarget: { loss: 0.1 }, toClient: { loss: 0.02 } };
  const TTL_MS = 15;
  const ttlSizes = (n: number) => Array.from({ length: n }, (_, i) => 8 + ((i * 1237) % 4000));

  it.each(['client', 'server'] as const)('TTL %s: our expired messages are missing at libudt, never corrupt', async (ours) => {
    const messages = indexedMessages(ttlSizes(400));
    const out = join(dir, `ttl-ours-${ours}.bin`);
    const { socket, peer, relay } = await session(ours, ['--recv', out], EXPIRING, FIXED);
    try {
      const ended = closed(socket);
      await sendMessages(socket, messages, { ttl: TTL_MS, perTick: 4, pauseMs: 2 });
      socket.end();
      expect(await within(ended, 30_000, 'close')).toBeNull();
      await expectCleanExit(peer, 30_000);
      const order = identify(decodeMessages(await readFile(out)), messages);
      const stats = socket.getStats({ clear: false });
      const missing = messages.length - order.length;
      console.log(
        `[interop msg] TTL ${TTL_MS} ms, ours as ${ours} → libudt: ${order.length}/${messages.length} delivered, ${missing} missing, ` +
          `we dropped ${stats.msgSendDroppedTotal} (drop requests sent), retransmitted ${stats.pktRetransTotal}; relay dropped ${relay!.stats().toTarget.dropped}`,
      );
      expect(inversions(order)).toBe(0);
      expect(missing).toBeGreaterThan(0);
      expect(stats.msgSendDroppedTotal).toBeGreaterThan(0);
      expect(missing).toBeLessThanOrEqual(stats.msgSendDroppedTotal);
    } finally {
      await relay?.stop();
    }
  });

  it.each(['client', 'server'] as const)("TTL %s: libudt's expired messages surface as 'messageDropped' at ours, never corrupt", async (ours) => {
    const messages = indexedMessages(ttlSizes(400));
    const file = join(dir, `ttl-libudt-${ours}.bin`);
    await writeFile(file, encodeMessages(messages));
    const { socket, peer, relay } = await session(ours, ['--send', file, '--ttl', String(TTL_MS)], EXPIRING);
    try {
      const got = gather(socket);
      await expectCleanExit(peer, 30_000);
      expect(await within(got.ended, 10_000, 'close')).toBeNull();
      const order = identify(got.messages, messages);
      const missing = messages.length - order.length;
      const stats = socket.getStats({ clear: false });
      console.log(
        `[interop msg] TTL ${TTL_MS} ms, libudt → ours as ${ours}: ${order.length}/${messages.length} delivered, ${missing} missing, ` +
          `${got.drops.length} 'messageDropped' events, ${stats.pktRcvLossTotal} packets seen missing`,
      );
      expect(inversions(order)).toBe(0);
      expect(missing).toBeGreaterThan(0);
      // libudt numbers messages from 1, one per sendmsg: exactly the missing ones must have been reported.
      const delivered = new Set(order);
      const missingMsgNos = messages.map((_, i) => i + 1).filter((msgNo) => !delivered.has(msgNo - 1));
      expect([...got.drops].sort((a, b) => a - b)).toEqual(missingMsgNos);
    } finally {
      await relay?.stop();
    }
  });
});
