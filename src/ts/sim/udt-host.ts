// Simulated UDT host: drives core Connections and a Listener per the sans-I/O contract and counts contract violations.

import type { CoreConfig } from '../core/config.js';
import { Connection, type ConnectionEvent } from '../core/connection.js';
import type { CloseReason, UdtError } from '../core/errors.js';
import { Listener } from '../core/listener.js';
import { decodePacket, HANDSHAKE_BODY_SIZE, HEADER_SIZE, readU32, writeHandshake, type Handshake } from '../core/packet.js';
import { createRng, type Rng } from '../core/rng.js';
import { SlotPool } from '../core/slot-pool.js';
import { createTransmitBuffer, type TransmitBuffer } from '../core/transmit.js';
import type { Network, SimNode, SimTimer } from './network.js';

export interface UdtHostOptions {
  /** Seed for socket ids and the owned/copied choice. */
  seed?: number;
  /** Probability a datagram is handed to the core as `owned`; otherwise it goes through a reused scratch buffer. */
  ownedProbability?: number;
  /** Datagrams per pollTransmit call (small values exercise the caller's loop). Default 16. */
  transmitCapacity?: number;
  /** Check buffer limits after every service. Default true. */
  checkInvariants?: boolean;
  /**
   * Wake up to this many µs after a future deadline (uniformly drawn), as a real event loop does; 0 (the default)
   * wakes exactly at the deadline.
   */
  timerSlackUs?: number;
  /**
   * Hands received datagrams to the cores in batches every `everyUs`, stamped `spacingUs` apart up to the batch time:
   * a receiver short of CPU reading a backlog the kernel stamped in a burst. Unset: each at its arrival.
   */
  rxBatch?: { everyUs: number; spacingUs: number };
}

/** What the application side of a simulated host does; every hook runs at virtual time `now`. */
export interface UdtApp {
  /** A connection was created (connect, rendezvous, or accepted by the listener). */
  onConnection?(hc: HostedConnection, now: number): void;
  onEvent?(hc: HostedConnection, ev: ConnectionEvent, now: number): void;
  /** Runs at every service, after the input was handled and before datagrams are polled. */
  onService?(hc: HostedConnection, now: number): void;
}

/** One spin: a due wake that sent nothing and left the deadline where it was. */
export interface SpinRecord {
  now: number;
  socketId: number;
  deadlineBefore: number;
  deadlineAfter: number;
  state: string;
}

export class HostedConnection {
  /** Significant events with their times (readable/writable are only counted). */
  readonly events: Array<{ t: number; ev: ConnectionEvent }> = [];
  readableEvents = 0;
  writableEvents = 0;
  /** Data datagrams handed to the core. */
  dataIn = 0;
  /** Datagrams of any kind handed to the core. */
  datagramsIn = 0;
  connectedAt = -1;
  closedAt = -1;
  closeReason: CloseReason | null = null;
  closeError: UdtError | null = null;
  /** Free for the application's own state. */
  app: Record<string, unknown> = {};
  timer: SimTimer | null = null;
  wakeAt = Infinity;
  lastServiceTime = -1;
  servicesAtTime = 0;

  constructor(
    readonly host: UdtHost,
    readonly conn: Connection,
    /** The peer's full address ("host:port"). */
    readonly peer: string,
  ) {}

  get closed(): boolean {
    return this.closedAt >= 0;
  }

  /** Runs a service now (after the app changed something from outside a service). */
  kick(): void {
    this.host.serviceNow(this);
  }
}

const MAX_SERVICES_AT_ONE_TIME = 10_000;

/** The host part of "host:port" (IPv6 addresses keep their colons). */
export function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.slice(0, i);
}

export function portOf(address: string): number {
  const i = address.lastIndexOf(':');
  return i < 0 ? 0 : Number(address.slice(i + 1)) | 0;
}

export class UdtHost implements SimNode {
  readonly connections: HostedConnection[] = [];
  readonly spins: SpinRecord[] = [];
  /** Wakes that sent nothing but moved the deadline forward to a time still not after now (re-run at once). */
  rewakes = 0;
  /** Broken invariants (buffer limits), with times. */
  readonly violations: string[] = [];
  /** Datagrams the demultiplexer dropped: too short, unknown destination id, wrong source address, stray dst 0. */
  readonly demux = { short: 0, unknownDst: 0, wrongSource: 0, strayZero: 0 };
  listener: Listener | null = null;
  app: UdtApp = {};
  private listenConfig: CoreConfig | null = null;
  private readonly byId = new Map<number, HostedConnection>();
  private readonly accepted = new Map<string, HostedConnection>();
  private readonly pools = new Map<number, SlotPool>();
  private readonly rng: Rng;
  private readonly out: TransmitBuffer;
  private readonly ownedP: number;
  private readonly checkInvariants: boolean;
  private readonly timerSlackUs: number;
  private readonly rxBatch: { everyUs: number; spacingUs: number } | null;
  private rxBacklog: Array<{ from: string; data: Uint8Array }> = [];
  private rxFlushDue = false;
  /** The latest time handed to any core on this host (batched input is never stamped before it). */
  private lastTime = 0;
  private scratch = new Uint8Array(2048);

  constructor(
    readonly net: Network,
    readonly address: string,
    options: UdtHostOptions = {},
  ) {
    this.rng = createRng(options.seed ?? 7);
    this.ownedP = options.ownedProbability ?? 0.5;
    this.checkInvariants = options.checkInvariants ?? true;
    this.timerSlackUs = options.timerSlackUs ?? 0;
    this.rxBatch = options.rxBatch ?? null;
    this.out = createTransmitBuffer(options.transmitCapacity ?? 16, 65536);
    net.addNode(this);
  }

  /** Spins recorded on this host. */
  get spinCount(): number {
    return this.spins.length;
  }

  /** Starts a listener; connections it accepts use `config`. */
  listen(config: CoreConfig, secret?: Uint8Array): Listener {
    this.listenConfig = config;
    this.listener = new Listener({ sockType: config.sockType, startTime: this.net.now, secret });
    return this.listener;
  }

  /** Connects to a listener at `remote`. */
  connect(remote: string, config: CoreConfig, opts: { isn?: number; socketId?: number } = {}): HostedConnection {
    const now = this.net.now;
    const conn = Connection.connect(config, this.params(config, remote, now, opts.isn, opts.socketId));
    return this.register(conn, remote, now);
  }

  /** One side of a rendezvous with `remote`. */
  rendezvous(remote: string, config: CoreConfig, opts: { isn?: number; socketId?: number } = {}): HostedConnection {
    const now = this.net.now;
    const conn = Connection.rendezvous(config, this.params(config, remote, now, opts.isn, opts.socketId));
    return this.register(conn, remote, now);
  }

  connection(socketId: number): HostedConnection | undefined {
    return this.byId.get(socketId);
  }

  /** Hands a datagram straight to a connection, skipping the network and the demultiplexer. */
  injectTo(hc: HostedConnection, data: Uint8Array, note = 'direct'): void {
    this.net.trace.add(this.net.now, 'inject', hc.peer, this.address, data, note);
    this.deliverTo(hc, this.net.now, data);
  }

  serviceNow(hc: HostedConnection): void {
    this.service(hc, this.net.now);
  }

  receive(now: number, from: string, data: Uint8Array): void {
    if (!this.rxBatch) {
      this.receiveAt(now, from, data);
      return;
    }
    this.rxBacklog.push({ from, data });
    if (this.rxFlushDue) return;
    this.rxFlushDue = true;
    this.net.schedule(now + this.rxBatch.everyUs, () => this.flushBacklog());
  }

  private flushBacklog(): void {
    const batch = this.rxBacklog;
    const now = this.net.now;
    this.rxBacklog = [];
    this.rxFlushDue = false;
    const spacing = this.rxBatch!.spacingUs;
    batch.forEach(({ from, data }, i) => this.receiveAt(Math.max(this.lastTime, now - (batch.length - 1 - i) * spacing), from, data));
  }

  private receiveAt(now: number, from: string, data: Uint8Array): void {
    if (data.length < HEADER_SIZE) {
      this.demux.short++;
      return;
    }
    const dst = readU32(data, 12);
    if (dst !== 0) {
      const hc = this.byId.get(dst);
      if (!hc) this.demux.unknownDst++;
      else if (hc.peer !== from) this.demux.wrongSource++;
      else this.deliverTo(hc, now, data);
      return;
    }
    for (const hc of this.connections) {
      if (hc.conn.role === 'rendezvous' && hc.peer === from) {
        this.deliverTo(hc, now, data);
        return;
      }
    }
    if (this.listener && data.length === HEADER_SIZE + HANDSHAKE_BODY_SIZE) {
      const pkt = decodePacket(data);
      if (pkt.kind === 'handshake') {
        this.toListener(now, from, pkt.hs);
        return;
      }
    }
    this.demux.strayZero++;
  }

  private toListener(now: number, from: string, hs: Handshake): void {
    const decision = this.listener!.handle(now, hs, hostOf(from), portOf(from));
    if (decision.kind === 'reply') {
      const buf = new Uint8Array(HEADER_SIZE + HANDSHAKE_BODY_SIZE);
      writeHandshake(buf, 0, decision.dst, decision.response);
      this.net.send(this.address, from, buf);
      return;
    }
    if (decision.kind !== 'accept') return;
    const req = decision.request;
    const key = `${from}/${req.socketId}/${req.isn}`;
    const existing = this.accepted.get(key);
    if (existing) {
      existing.conn.resendHandshakeResponse();
      this.service(existing, now);
      return;
    }
    const cfg = this.listenConfig!;
    const p = this.params(cfg, from, now);
    const conn = Connection.accept(cfg, { localSocketId: p.localSocketId, peerAddress: p.peerAddress, now, pool: p.pool }, req);
    const hc = this.register(conn, from, now);
    this.accepted.set(key, hc);
  }

  private params(cfg: CoreConfig, remote: string, now: number, isn?: number, socketId?: number) {
    let id = socketId ?? 0;
    while (id === 0 || this.byId.has(id)) id = 1 + Math.floor(this.rng() * 0x3fffffff);
    let pool = this.pools.get(cfg.payloadSize);
    if (!pool) {
      pool = new SlotPool(cfg.payloadSize, 64);
      this.pools.set(cfg.payloadSize, pool);
    }
    return {
      localSocketId: id,
      isn: isn ?? Math.floor(this.rng() * 0x7fffffff),
      peerAddress: hostOf(remote),
      now,
      pool,
    };
  }

  private register(conn: Connection, peer: string, now: number): HostedConnection {
    const hc = new HostedConnection(this, conn, peer);
    this.connections.push(hc);
    this.byId.set(conn.localSocketId, hc);
    this.app.onConnection?.(hc, now);
    this.arm(hc, now);
    return hc;
  }

  private deliverTo(hc: HostedConnection, now: number, data: Uint8Array): void {
    hc.datagramsIn++;
    if (data.length > HEADER_SIZE && (data[0] & 0x80) === 0) hc.dataIn++;
    if (this.rng() < this.ownedP) {
      hc.conn.handleDatagram(now, data, 0, data.length, true);
    } else {
      // The copying path: a reused buffer at a random offset, poisoned afterwards so kept references show up.
      const off = Math.floor(this.rng() * 64);
      if (this.scratch.length < off + data.length) this.scratch = new Uint8Array(off + data.length + 1024);
      this.scratch.set(data, off);
      hc.conn.handleDatagram(now, this.scratch, off, data.length, false);
      this.scratch.fill(0xa5, off, off + data.length);
    }
    this.service(hc, now);
  }

  private service(hc: HostedConnection, now: number): void {
    const conn = hc.conn;
    this.lastTime = Math.max(this.lastTime, now);
    if (now !== hc.lastServiceTime) {
      hc.lastServiceTime = now;
      hc.servicesAtTime = 0;
    }
    hc.servicesAtTime++;
    const before = conn.pollTimeout();
    const due = before <= now;
    if (due) {
      this.net.trace.add(now, 'timeout', this.address, hc.peer, null, `id=${conn.localSocketId} deadline=${before}`);
      conn.handleTimeout(now);
    }
    this.drainEvents(hc, now);
    this.app.onService?.(hc, now);
    const out = this.out;
    let sent = 0;
    for (;;) {
      out.count = 0;
      conn.pollTransmit(now, out);
      if (out.count === 0) break;
      for (let i = 0; i < out.count; i++) this.net.send(this.address, hc.peer, out.buf, i * out.stride, out.lengths[i]);
      sent += out.count;
    }
    this.drainEvents(hc, now);
    if (this.checkInvariants) this.check(hc, now);
    let next = conn.pollTimeout();
    if (due && sent === 0 && next <= now) {
      if (next <= before) {
        this.spins.push({ now, socketId: conn.localSocketId, deadlineBefore: before, deadlineAfter: next, state: conn.state });
        this.net.trace.add(now, 'note', this.address, hc.peer, null, `SPIN id=${conn.localSocketId} deadline ${before} -> ${next}`);
        next = now + 1;
      } else {
        this.rewakes++;
      }
    }
    if (next <= now && hc.servicesAtTime >= MAX_SERVICES_AT_ONE_TIME) {
      this.violations.push(`t=${now}: id=${conn.localSocketId} asked for ${hc.servicesAtTime} services at one instant`);
      next = now + 1;
    }
    if (next > now && next !== Infinity && this.timerSlackUs > 0) next += this.rng() * this.timerSlackUs;
    this.arm(hc, Math.max(next, now));
  }

  private arm(hc: HostedConnection, at: number): void {
    if (hc.timer && !hc.timer.cancelled && hc.wakeAt === at) return;
    this.net.cancel(hc.timer);
    hc.timer = null;
    hc.wakeAt = at;
    if (at === Infinity) return;
    hc.timer = this.net.schedule(at, () => {
      hc.timer = null;
      hc.wakeAt = Infinity;
      this.service(hc, this.net.now);
    });
  }

  private drainEvents(hc: HostedConnection, now: number): void {
    let ev: ConnectionEvent | undefined;
    while ((ev = hc.conn.pollEvent())) {
      if (ev.type === 'readable') hc.readableEvents++;
      else if (ev.type === 'writable') hc.writableEvents++;
      else {
        hc.events.push({ t: now, ev });
        this.net.trace.add(now, 'event', this.address, hc.peer, null, describeEvent(hc, ev));
      }
      if (ev.type === 'connected') hc.connectedAt = now;
      if (ev.type === 'closed') {
        hc.closedAt = now;
        hc.closeReason = ev.reason;
        hc.closeError = ev.error;
        for (const pool of this.pools.values()) pool.shrink(0);
      }
      this.app.onEvent?.(hc, ev, now);
    }
  }

  private check(hc: HostedConnection, now: number): void {
    const s = hc.conn.sender;
    const r = hc.conn.receiver;
    if (s && s.buffer.packets > s.buffer.maxPackets) {
      this.violations.push(`t=${now}: id=${hc.conn.localSocketId} send buffer holds ${s.buffer.packets} > ${s.buffer.maxPackets} packets`);
    }
    if (r && r.buffer.occupiedSlots > r.buffer.maxPackets) {
      this.violations.push(`t=${now}: id=${hc.conn.localSocketId} receive buffer holds ${r.buffer.occupiedSlots} > ${r.buffer.maxPackets} packets`);
    }
  }
}

function describeEvent(hc: HostedConnection, ev: ConnectionEvent): string {
  const id = `id=${hc.conn.localSocketId}`;
  switch (ev.type) {
    case 'closed':
      return `${id} closed ${ev.reason}${ev.error ? ` ${ev.error.code}` : ''}`;
    case 'message-dropped':
      return `${id} message-dropped ${ev.msgNo}`;
    default:
      return `${id} ${ev.type}`;
  }
}
