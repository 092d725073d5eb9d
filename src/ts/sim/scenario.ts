// Ready-made simulated transfers (stream, message, bulk) that tests and benchmarks run and then inspect.

import { resolveConfig, type ConnectionOptions } from '../core/config.js';
import type { ReceivedMessage } from '../core/recv-buffer.js';
import { createRng } from '../core/rng.js';
import type { Link, LinkConfig } from './link.js';
import { Network, type RunResult } from './network.js';
import { UdtHost, type HostedConnection } from './udt-host.js';

export const CLIENT_ADDR = '10.0.0.1:4000';
export const SERVER_ADDR = '10.0.0.2:9000';

/** Deterministic pseudo-random bytes. */
export function patternBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const rng = createRng(seed);
  for (let i = 0; i < n; i += 4) {
    const v = (rng() * 4294967296) >>> 0;
    out[i] = v;
    if (i + 1 < n) out[i + 1] = v >>> 8;
    if (i + 2 < n) out[i + 2] = v >>> 16;
    if (i + 3 < n) out[i + 3] = v >>> 24;
  }
  return out;
}

export interface PathSetup {
  seed: number;
  /** Client → server link. */
  link: LinkConfig;
  /** Server → client link (default: `link`). */
  back?: LinkConfig;
  /** Core options for both sides (seed is set per side). */
  options?: ConnectionOptions;
  /** Overrides for the server side only. */
  serverOptions?: ConnectionOptions;
  /** The client's initial sequence number (default random). */
  isn?: number;
  /** Both sides connect in rendezvous mode instead of client and listener. */
  rendezvous?: boolean;
  ownedProbability?: number;
  transmitCapacity?: number;
  timerSlackUs?: number;
  /** The server host reads its datagrams in batches (see UdtHostOptions.rxBatch). */
  serverRxBatch?: { everyUs: number; spacingUs: number };
  traceSize?: number;
}

export interface SimPair {
  net: Network;
  clientHost: UdtHost;
  serverHost: UdtHost;
  forward: Link;
  backward: Link;
  client: HostedConnection;
  /** The accepted connection (or the server's rendezvous side). */
  server: () => HostedConnection | null;
  /** Spins and invariant violations on both hosts. */
  spins: () => number;
  violations: () => string[];
}

/** A client host and a listening server host joined by a path; the client starts connecting at t=0. */
export function createPair(setup: PathSetup): SimPair {
  const net = new Network({ seed: setup.seed, traceSize: setup.traceSize ?? 4000 });
  const hostOpts = { ownedProbability: setup.ownedProbability, transmitCapacity: setup.transmitCapacity, timerSlackUs: setup.timerSlackUs };
  const clientHost = new UdtHost(net, CLIENT_ADDR, { ...hostOpts, seed: setup.seed ^ 0x1111 });
  const serverHost = new UdtHost(net, SERVER_ADDR, { ...hostOpts, seed: setup.seed ^ 0x2222, rxBatch: setup.serverRxBatch });
  const [forward, backward] = net.setPath(CLIENT_ADDR, SERVER_ADDR, setup.link, setup.back ?? setup.link);
  const rdv = setup.rendezvous ?? false;
  const serverConfig = resolveConfig({ ...setup.options, ...setup.serverOptions, seed: setup.seed ^ 0x3333 }, rdv);
  const clientConfig = resolveConfig({ ...setup.options, seed: setup.seed ^ 0x4444 }, rdv);
  if (rdv) serverHost.rendezvous(CLIENT_ADDR, serverConfig);
  else serverHost.listen(serverConfig);
  const client = rdv ? clientHost.rendezvous(SERVER_ADDR, clientConfig, { isn: setup.isn }) : clientHost.connect(SERVER_ADDR, clientConfig, { isn: setup.isn });
  return {
    net,
    clientHost,
    serverHost,
    forward,
    backward,
    client,
    server: () => serverHost.connections[0] ?? null,
    spins: () => clientHost.spinCount + serverHost.spinCount,
    violations: () => [...clientHost.violations, ...serverHost.violations],
  };
}

export interface StreamTransferSetup extends PathSetup {
  /** Payload bytes the client writes. */
  bytes: number;
  /** Payload bytes the server writes back at the same time (default 0: one direction only). */
  reverseBytes?: number;
  /** Largest single write() call. Default 64 KiB. */
  writeChunk?: number;
  /** Largest single read() call. Default unlimited. */
  readChunk?: number;
  /** When set, the server reads only every this many µs (a slow reader), at most `readChunk` bytes each time. */
  readEveryUs?: number;
  /** Virtual deadline for the run, µs. */
  until: number;
  /** Called once the pair exists (fault injection and other additions). */
  onSetup?: (pair: SimPair) => void;
}

/** One direction of a stream transfer, checked byte by byte as it is read. */
export interface StreamDirection {
  data: Uint8Array;
  /** Bytes written into the sending connection. */
  written: number;
  /** Bytes read from the receiving connection. */
  read: number;
  /** Offset of the first byte read that differs from what was written, or -1. */
  mismatchAt: number;
  /** Virtual time the last byte was read, or -1. */
  completedAt: number;
}

export interface StreamTransferResult extends StreamDirection {
  pair: SimPair;
  run: RunResult;
  /** Server to client, when `reverseBytes` was set. */
  reverse: StreamDirection;
  /** Bytes the server could read (read + readable) when it saw 'closed', or -1 if it never closed. */
  deliverableAtServerClose: number;
  /** Payload the server has read at the moment the client saw 'closed'. */
  readAtClientClose: number;
}

function direction(data: Uint8Array): StreamDirection {
  return { data, written: 0, read: 0, mismatchAt: -1, completedAt: data.length === 0 ? 0 : -1 };
}

/** Writes as much of the direction's data as the connection takes. */
function pump(d: StreamDirection, hc: HostedConnection, now: number, chunk: number): void {
  while (d.written < d.data.length) {
    const n = hc.conn.write(d.data.subarray(d.written, Math.min(d.data.length, d.written + chunk)), now);
    if (n === 0) break;
    d.written += n;
  }
}

/** Reads up to `max` bytes (in calls of at most `chunk`) and checks them against the data written. */
function consume(d: StreamDirection, hc: HostedConnection, now: number, max: number, chunk: number): void {
  let c: Uint8Array | null;
  let budget = max;
  while (budget > 0 && (c = hc.conn.read(Math.min(budget, chunk)))) {
    budget -= c.length;
    if (d.mismatchAt < 0) {
      for (let i = 0; i < c.length; i++) {
        if (d.read + i >= d.data.length || c[i] !== d.data[d.read + i]) {
          d.mismatchAt = d.read + i;
          break;
        }
      }
    }
    d.read += c.length;
    if (d.read >= d.data.length && d.completedAt < 0) d.completedAt = now;
  }
}

/**
 * The client writes `bytes` (and the server `reverseBytes`) in chunks; each side closes gracefully once it has
 * written everything and read everything the other side sent. Every byte read is checked.
 */
export function runStreamTransfer(setup: StreamTransferSetup): StreamTransferResult {
  const fwd = direction(patternBytes(setup.bytes, setup.seed ^ 0x5a5a));
  const rev = direction(patternBytes(setup.reverseBytes ?? 0, setup.seed ^ 0xa5a5));
  const twoWay = rev.data.length > 0;
  const writeChunk = setup.writeChunk ?? 65536;
  const readChunk = setup.readChunk ?? Infinity;
  const extra = { deliverableAtServerClose: -1, readAtClientClose: -1 };
  const pair = createPair(setup);
  const { net } = pair;
  const closed = [false, false];
  const maybeClose = (side: number, hc: HostedConnection, now: number, mine: StreamDirection, theirs: StreamDirection): void => {
    if (closed[side] || mine.written < mine.data.length || (twoWay && theirs.read < theirs.data.length)) return;
    if (side === 1 && !twoWay) return;
    closed[side] = true;
    hc.conn.close(now);
  };

  pair.clientHost.app = {
    onService(hc, now) {
      if (hc.conn.state !== 'connected') return;
      pump(fwd, hc, now, writeChunk);
      consume(rev, hc, now, Infinity, Infinity);
      maybeClose(0, hc, now, fwd, rev);
    },
    onEvent(hc, ev, now) {
      if (ev.type !== 'closed') return;
      extra.readAtClientClose = fwd.read;
      consume(rev, hc, now, Infinity, Infinity);
    },
  };
  const startSlowReader = (hc: HostedConnection): void => {
    if (setup.readEveryUs === undefined) return;
    const tick = (): void => {
      consume(fwd, hc, net.now, readChunk, readChunk);
      hc.kick();
      if (!hc.closed || hc.conn.readableBytes > 0) net.schedule(net.now + setup.readEveryUs!, tick);
    };
    net.schedule(net.now + setup.readEveryUs, tick);
  };
  pair.serverHost.app = {
    onConnection: startSlowReader,
    onService(hc, now) {
      if (hc.conn.state === 'connected' && twoWay) pump(rev, hc, now, writeChunk);
      if (setup.readEveryUs === undefined) consume(fwd, hc, now, Infinity, readChunk);
      if (hc.conn.state === 'connected') maybeClose(1, hc, now, rev, fwd);
    },
    onEvent(hc, ev, now) {
      if (ev.type !== 'closed') return;
      extra.deliverableAtServerClose = fwd.read + hc.conn.readableBytes;
      if (setup.readEveryUs === undefined) consume(fwd, hc, now, Infinity, readChunk);
    },
  };
  // A rendezvous server side exists before the app was attached.
  const early = pair.server();
  if (early) startSlowReader(early);
  setup.onSetup?.(pair);
  const run = net.run({ until: setup.until });
  return { pair, run, ...fwd, reverse: rev, ...extra };
}

export interface MessageSpec {
  size: number;
  /** Time to live in ms (-1: forever). */
  ttlMs: number;
  inOrder: boolean;
}

export interface MessageTransferSetup extends PathSetup {
  messages: MessageSpec[];
  until: number;
}

export interface MessageTransferResult {
  pair: SimPair;
  run: RunResult;
  /** Message number the sender's buffer gave each message (in send order; 0 = never accepted). */
  msgNos: number[];
  /** Deliveries in read order: message index and whether its bytes were intact. */
  delivered: Array<{ index: number; intact: boolean; inOrderViolation: boolean }>;
  /** Message numbers reported dropped, in the order they were reported. */
  dropped: number[];
  /** Message numbers delivered that the sender never sent. */
  unknown: number[];
  /** Events other than drops and readable that showed up while reading (should be none). */
  otherEvents: string[];
}

/** The client sends the messages in order (retrying when the buffer is full), closes, and the server reads them. */
export function runMessageTransfer(setup: MessageTransferSetup): MessageTransferResult {
  const options: ConnectionOptions = { ...setup.options, mode: 'message' };
  const pair = createPair({ ...setup, options });
  const { net } = pair;
  const msgs = setup.messages;
  const payloads = msgs.map((m, i) => patternBytes(m.size, setup.seed * 31 + i));
  const msgNos: number[] = new Array(msgs.length).fill(0);
  const byMsgNo = new Map<number, number>();
  const res: MessageTransferResult = { pair, run: { end: 'idle', now: 0, events: 0 }, msgNos, delivered: [], dropped: [], unknown: [], otherEvents: [] };
  const settled = new Set<number>();
  let next = 0;
  let msgNo = 1;
  let closeCalled = false;

  pair.clientHost.app = {
    onService(hc, now) {
      const c = hc.conn;
      if (c.state !== 'connected') return;
      while (next < msgs.length) {
        const m = msgs[next];
        if (!c.sendMessage(payloads[next], now, m.ttlMs, m.inOrder)) break;
        msgNos[next] = msgNo;
        byMsgNo.set(msgNo, next);
        msgNo++;
        next++;
      }
      if (next === msgs.length && !closeCalled) {
        closeCalled = true;
        c.close(now);
      }
    },
  };
  const onDrop = (n: number): void => {
    res.dropped.push(n);
    settled.add(n);
  };
  const readAll = (hc: HostedConnection): void => {
    let m: ReceivedMessage | null;
    while ((m = hc.conn.readMessage())) {
      let ev;
      // Drops the read just passed are reported now, before the message is checked for order.
      while ((ev = hc.conn.pollEvent())) {
        if (ev.type === 'message-dropped') onDrop(ev.msgNo);
        else if (ev.type !== 'readable') res.otherEvents.push(ev.type);
      }
      const index = byMsgNo.get(m.msgNo);
      if (index === undefined) {
        res.unknown.push(m.msgNo);
        continue;
      }
      const want = payloads[index];
      const intact = m.data.length === want.length && m.data.every((v, i) => v === want[i]);
      // An in-order message may only appear once every earlier message was delivered or reported dropped.
      let inOrderViolation = false;
      if (msgs[index].inOrder) {
        for (let j = 0; j < index; j++) if (!settled.has(msgNos[j])) inOrderViolation = true;
      }
      settled.add(m.msgNo);
      res.delivered.push({ index, intact, inOrderViolation });
    }
  };
  pair.serverHost.app = {
    onService: readAll,
    onEvent(hc, ev) {
      if (ev.type === 'message-dropped') onDrop(ev.msgNo);
      if (ev.type === 'closed') readAll(hc);
    },
  };
  res.run = net.run({ until: setup.until });
  return res;
}

export interface BulkSetup extends PathSetup {
  /** Virtual duration, µs. */
  durationUs: number;
  /** Goodput sample interval, µs. */
  sampleUs: number;
  /** Called once the pair exists (e.g. to schedule changes to the path). */
  onSetup?: (pair: SimPair) => void;
}

export interface BulkResult {
  pair: SimPair;
  /** Bytes read by the server application in each sample interval. */
  samples: number[];
  sampleUs: number;
}

/** The client keeps its send buffer full for `durationUs`; the server reads everything; goodput is sampled. */
export function runBulk(setup: BulkSetup): BulkResult {
  const pair = createPair({ ...setup, traceSize: setup.traceSize ?? 256 });
  setup.onSetup?.(pair);
  const { net } = pair;
  const chunk = new Uint8Array(1 << 20);
  const samples: number[] = [];
  let read = 0;
  let lastSample = 0;
  pair.clientHost.app = {
    onService(hc, now) {
      if (hc.conn.state !== 'connected') return;
      while (hc.conn.write(chunk, now) > 0);
    },
  };
  pair.serverHost.app = {
    onService(hc) {
      let c: Uint8Array | null;
      while ((c = hc.conn.read())) read += c.length;
    },
  };
  const sample = (): void => {
    samples.push(read - lastSample);
    lastSample = read;
    if (net.now + setup.sampleUs <= setup.durationUs) net.schedule(net.now + setup.sampleUs, sample);
  };
  net.schedule(setup.sampleUs, sample);
  net.run({ until: setup.durationUs });
  return { pair, samples, sampleUs: setup.sampleUs };
}
