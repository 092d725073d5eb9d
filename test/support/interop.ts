// Shared pieces of the ours ↔ libudt interop tests: data, our sockets, nodepeer processes, and a stream-case runner.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, createServer, type UdtServer, type UdtSocket, type UdtStats } from '../../src/ts/api/index.js';
import type { ConnectOptions, ServerOptions } from '../../src/ts/api/index.js';
import { expectCleanExit, spawnUdtPeer, startUdtListener, UdtPeer, type PeerEvent, type SpawnUdtPeerOptions } from './libudt.js';
import { LossyRelay, type LossyRelayOptions } from './lossy-relay.js';

const here = dirname(fileURLToPath(import.meta.url));
export const NODEPEER_SCRIPT = join(here, '..', 'interop', 'peers', 'nodepeer.ts');
export const MB = 1024 * 1024;

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function randomData(bytes: number): Buffer {
  const parts: Buffer[] = [];
  for (let left = bytes; left > 0; left -= 16 * MB) parts.push(randomBytes(Math.min(16 * MB, left)));
  return Buffer.concat(parts);
}

/** The udtpeer message-file format: 4-byte big-endian length, then the bytes, per message. */
export function encodeMessages(messages: readonly Uint8Array[]): Buffer {
  return Buffer.concat(
    messages.flatMap((m) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(m.length);
      return [header, m];
    }),
  );
}

export function decodeMessages(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < file.length; ) {
    const len = file.readUInt32BE(off);
    out.push(file.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** Rejects with `what` if `p` has not settled within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A UDP port that was free a moment ago (for rendezvous, where both sides must know each other's port first). */
export async function freeUdpPort(family: 4 | 6 = 4): Promise<number> {
  const s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => s.bind(0, family === 6 ? '::1' : '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// ---------- impairment ----------

export type Impairments = Pick<LossyRelayOptions, 'seed' | 'loss' | 'dupRate' | 'reorderRate' | 'reorderDelayMs' | 'delayMs' | 'toTarget' | 'toClient'>;

/**
 * A relay whose impairment starts once `afterAcks` full ACKs have passed, so both CCs leave slow start with a measured
 * receive rate (a NAK before that sets UDT's period to 1e6/16 µs, 16 packets/s, for seconds), and which never drops
 * a SHUTDOWN (UDT sends it once; losing it turns a close into a death detection, tested on its own). Fixed delays
 * apply from the start.
 */
export function impairedRelay(target: { host: string; port: number }, imp: Impairments, afterAcks = 3): LossyRelay {
  const clean = { loss: 0, dupRate: 0, reorderRate: 0 };
  let acks = 0;
  const relay: LossyRelay = new LossyRelay({
    ...imp,
    ...clean,
    toTarget: { ...imp.toTarget, ...clean },
    toClient: { ...imp.toClient, ...clean },
    target,
    spare: (_way, msg) => msg.length >= 4 && msg.readUInt32BE(0) === 0x80050000,
    tap: (_way, msg) => {
      if (acks >= afterAcks || msg.length < 24 || msg.readUInt32BE(0) !== 0x80020000 || msg.readUInt32BE(4) === 0) return;
      if (++acks < afterAcks) return;
      const shared = { loss: imp.loss ?? 0, dupRate: imp.dupRate ?? 0, reorderRate: imp.reorderRate ?? 0 };
      relay.update('toTarget', { ...shared, ...imp.toTarget });
      relay.update('toClient', { ...shared, ...imp.toClient });
    },
  });
  return relay;
}

// ---------- our sockets ----------

export async function listenOurs(options: ServerOptions, host = '127.0.0.1'): Promise<{ server: UdtServer; port: number }> {
  const server = createServer(options);
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: server.address()!.port };
}

export async function connectOurs(options: ConnectOptions): Promise<UdtSocket> {
  const s = connect(options);
  await Promise.race([once(s, 'connect'), once(s, 'error').then(([e]) => Promise.reject(e as Error))]);
  return s;
}

/** Writes `data` in chunks, honouring backpressure. */
export async function writeAll(s: UdtSocket, data: Buffer, chunk = 256 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!s.write(data.subarray(off, off + chunk))) {
      const ac = new AbortController();
      await Promise.race([once(s, 'drain', { signal: ac.signal }), once(s, 'close', { signal: ac.signal })]);
      ac.abort();
    }
    if (s.destroyed) throw new Error(`socket destroyed after ${off} of ${data.length} bytes were written`);
  }
}

export interface Received {
  bytes: number;
  sha256: string;
}

/** Hashes everything read until 'end'; rejects on 'error'. */
export function collectStream(s: UdtSocket): Promise<Received> {
  const hash = createHash('sha256');
  let bytes = 0;
  s.on('data', (d: Buffer) => {
    bytes += d.length;
    hash.update(d);
  });
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    s.once('error', reject);
  });
}

/** Hashes what is read until `n` bytes have arrived (the connection stays open); rejects on 'error' or an early end. */
export function receiveBytes(s: UdtSocket, n: number): Promise<Received> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
      if (bytes >= n) {
        s.off('data', onData);
        resolve({ bytes, sha256: hash.digest('hex') });
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('end', () => reject(new Error(`stream ended after ${bytes} of ${n} bytes`)));
  });
}

/** Resolves with the error the socket closed with (null for a clean close). */
export function closed(s: UdtSocket): Promise<Error | null> {
  if (s.closed) return Promise.resolve((s.errored as Error | null) ?? null);
  return new Promise((resolve) => {
    let error: Error | null = null;
    s.once('error', (e) => (error = e));
    s.once('close', () => resolve(error));
  });
}

// ---------- nodepeer (our library in a child process) ----------

/** Starts test/interop/peers/nodepeer.ts (see its header for flags); driven like a udtpeer. */
export function spawnNodePeer(args: readonly string[], opts: SpawnUdtPeerOptions = {}): UdtPeer {
  const child = spawn(process.execPath, ['--import', 'tsx', NODEPEER_SCRIPT, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new UdtPeer(child, ['(nodepeer)', ...args], opts.timeoutMs ?? 60_000);
}

// ---------- one stream transfer between us and libudt ----------

export type OurRole = 'client' | 'server';
export type Sender = 'ours' | 'libudt';

/** The four ways a one-way transfer can run between us and libudt. */
export const STREAM_CASES: ReadonlyArray<{ ours: OurRole; sender: Sender; name: string }> = [
  { ours: 'client', sender: 'ours', name: 'our client → libudt listener, we send' },
  { ours: 'client', sender: 'libudt', name: 'our client ← libudt listener, libudt sends' },
  { ours: 'server', sender: 'libudt', name: 'libudt client → our listener, libudt sends' },
  { ours: 'server', sender: 'ours', name: 'libudt client ← our listener, we send' },
];

export interface StreamCase {
  ours: OurRole;
  sender: Sender;
  /** The bytes to move; for a libudt sender also stored at `file`. */
  data: Buffer;
  file: string;
  /** Where a libudt receiver stores the bytes. */
  outFile: string;
  host?: string;
  ourOptions?: ServerOptions;
  libudtArgs?: string[];
  /** Put a plain relay (e.g. with a tap) in front of the listener. */
  relay?: Omit<LossyRelayOptions, 'target'>;
  /** Or an impairedRelay with these impairments. */
  impair?: Impairments;
  timeoutMs?: number;
}

export interface StreamResult {
  /** SHA-256 of what the receiver got, and the byte count. */
  received: Received;
  ourStats: UdtStats;
  ourCloseError: Error | null;
  libudt: PeerEvent;
  elapsedMs: number;
  relay?: ReturnType<LossyRelay['stats']>;
}

const LIBUDT_MAX_TIME = (ms: number) => ['--max-time', String(Math.ceil(ms / 1000))];

/**
 * Moves `data` one way between our socket and a udtpeer, the sender closing first once everything is acknowledged.
 * Resolves when both sides have closed; the libudt side must exit cleanly.
 */
export async function runStreamCase(c: StreamCase): Promise<StreamResult> {
  const host = c.host ?? '127.0.0.1';
  const timeoutMs = c.timeoutMs ?? 60_000;
  const libudtDirection = c.sender === 'libudt' ? ['--send', c.file] : ['--recv', c.outFile];
  const libudtArgs = ['--host', host, ...LIBUDT_MAX_TIME(timeoutMs), ...libudtDirection, ...(c.libudtArgs ?? [])];
  const peerOpts = { timeoutMs: timeoutMs + 5000 };
  let relay: LossyRelay | undefined;
  const front = async (port: number) => {
    if (c.impair) relay = impairedRelay({ host, port }, c.impair);
    else if (c.relay) relay = new LossyRelay({ ...c.relay, target: { host, port } });
    return relay ? relay.start() : port;
  };
  const started = Date.now();
  let socket: UdtSocket;
  let server: UdtServer | undefined;
  let peer: UdtPeer;
  try {
    if (c.ours === 'client') {
      const listening = await startUdtListener(['--port', '0', ...libudtArgs], peerOpts);
      peer = listening.peer;
      socket = await connectOurs({ ...c.ourOptions, host, port: await front(listening.port) });
    } else {
      const ours = await listenOurs(c.ourOptions ?? {}, host);
      server = ours.server;
      const accepted = once(server, 'connection') as Promise<[UdtSocket]>;
      peer = await spawnUdtPeer(['connect', '--port', String(await front(ours.port)), ...libudtArgs], peerOpts);
      [socket] = await within(accepted, 10_000, 'our server accepting the libudt client');
      server.close();
    }
    const closing = closed(socket);
    let received: Received;
    if (c.sender === 'ours') {
      await within(writeAll(socket, c.data), timeoutMs, 'our writes');
      socket.end();
      await within(closing, timeoutMs, 'our socket closing');
      await expectCleanExit(peer, timeoutMs);
      received = { bytes: (await stat(c.outFile)).size, sha256: await sha256File(c.outFile) };
    } else {
      received = await within(collectStream(socket), timeoutMs, 'receiving from libudt');
      await within(closing, timeoutMs, 'our socket closing');
      await expectCleanExit(peer, timeoutMs);
    }
    const [libudt] = peer.events.filter((e) => e.event === 'done');
    return {
      received,
      ourStats: socket.getStats({ clear: false }),
      ourCloseError: await closing,
      libudt,
      elapsedMs: Date.now() - started,
      relay: relay?.stats(),
    };
  } finally {
    server?.close();
    await relay?.stop();
  }
}

/** Runs the same case with us sending and with libudt sending (libudt receives into `${file}.<sender>.got`). */
export async function runBothSenders(c: Omit<StreamCase, 'sender' | 'outFile'>): Promise<Record<Sender, StreamResult>> {
  const ours = await runStreamCase({ ...c, sender: 'ours', outFile: `${c.file}.ours.got` });
  const libudt = await runStreamCase({ ...c, sender: 'libudt', outFile: `${c.file}.libudt.got` });
  return { ours, libudt };
}
