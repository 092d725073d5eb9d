// One UDP port carrying many UDT connections: demultiplexing, the listener, one timer heap, batched I/O.

import { channel } from 'node:diagnostics_channel';
import type { CoreConfig } from '../core/config.js';
import { Connection, type ConnectionEvent } from '../core/connection.js';
import { UdtError } from '../core/errors.js';
import { Listener } from '../core/listener.js';
import { decodePacket, HEADER_SIZE, IP_UDP_OVERHEAD, readU32, writeHandshake, type Handshake } from '../core/packet.js';
import { createRng, random31 } from '../core/rng.js';
import { SlotPool } from '../core/slot-pool.js';
import type { BoundInfo, Engine, PeerAddress, RxBatch, TxBatch } from '../engine/engine.js';
import { nowUs } from './clock.js';
import { AcceptedIndex } from './accepted-index.js';
import { ConnEntry, type ConnectionSink, type ListenerHooks } from './conn-entry.js';
import { DeadlineHeap } from './deadline-heap.js';
import { debug } from './debug.js';

export interface EndpointCounters {
  /** Datagrams too short or not decodable where a control packet was expected. */
  malformed: number;
  /** Datagrams for a socket id this endpoint does not have. */
  unknownDestination: number;
  /** Datagrams for a known socket id from an address that is not its peer. */
  wrongPeer: number;
  /** Handshakes to id 0 that no listener or rendezvous took, or that failed the cookie check. */
  handshakesIgnored: number;
  /** Connection requests answered with a rejection. */
  rejected: number;
}

const channels = {
  connect: channel('udt:connect'),
  close: channel('udt:close'),
  loss: channel('udt:loss'),
  rate: channel('udt:rate'),
};

const HANDLE_SWEEP_US = 2_000_000;
/** Without a pacing thread, deadlines closer than this are waited for by spinning the event loop. */
const IMMEDIATE_WAIT_US = 200;

export class Endpoint {
  readonly counters: EndpointCounters = { malformed: 0, unknownDestination: 0, wrongPeer: 0, handshakesIgnored: 0, rejected: 0 };
  readonly pool: SlotPool;
  /** Data due within this many µs is handed to the engine ahead of time (pacing engines only). */
  readonly horizon: number;
  private readonly connections = new Map<number, ConnEntry>();
  private readonly accepted = new AcceptedIndex();
  private readonly rendezvousByPeer = new Map<number, ConnEntry>();
  private readonly handleRefs = new Map<number, number>();
  private transientHandles = new Set<number>();
  private readonly heap = new DeadlineHeap<ConnEntry>();
  private dirtyList: ConnEntry[] = [];
  private txQueue: ConnEntry[] = [];
  private batch: TxBatch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private timerAt = Infinity;
  private flushScheduled = false;
  private receiveFlush: NodeJS.Immediate | null = null;
  private listener: Listener | null = null;
  private hooks: ListenerHooks | null = null;
  private nextSocketId: number;
  private refs = 0;
  private closed = false;
  private lastSweep = 0;
  private readonly rng = createRng((Math.random() * 2 ** 32) >>> 0);
  onClose: (() => void) | null = null;

  private constructor(
    readonly engine: Engine,
    readonly bound: BoundInfo,
    readonly mss: number,
  ) {
    this.pool = new SlotPool(mss - IP_UDP_OVERHEAD - HEADER_SIZE);
    this.horizon = engine.stats().pacing === 'thread' ? 2000 : 0;
    this.nextSocketId = 1 + Math.floor(this.rng() * 2 ** 30);
  }

  /** Opens the engine's UDP socket and starts receiving. */
  static async open(engine: Engine, options: { type: 'udp4' | 'udp6'; address?: string; port?: number; mss: number; sndBuf?: number; rcvBuf?: number; ipv6Only?: boolean }): Promise<Endpoint> {
    let ep: Endpoint | null = null;
    const bound = await engine.open(
      { type: options.type, address: options.address, port: options.port, sndBuf: options.sndBuf, rcvBuf: options.rcvBuf, ipv6Only: options.ipv6Only, maxDatagram: options.mss - IP_UDP_OVERHEAD },
      {
        onReceive: (b) => ep?.onReceive(b),
        onWritable: () => ep?.onWritable(),
        onError: (e) => ep?.onEngineError(e),
      },
    );
    ep = new Endpoint(engine, bound, options.mss);
    debug('endpoint %s:%d open (%s engine)', bound.address, bound.port, engine.kind);
    return ep;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Keeps the endpoint open while a socket or server uses it. */
  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs <= 0 && !this.closed) void this.shutdown();
  }

  private allocSocketId(): number {
    for (;;) {
      const id = this.nextSocketId;
      this.nextSocketId = id <= 1 ? 2 ** 30 : id - 1;
      if (!this.connections.has(id)) return id;
    }
  }

  private refHandle(h: number): void {
    this.handleRefs.set(h, (this.handleRefs.get(h) ?? 0) + 1);
    this.transientHandles.delete(h);
  }

  private unrefHandle(h: number): void {
    const n = (this.handleRefs.get(h) ?? 1) - 1;
    if (n > 0) this.handleRefs.set(h, n);
    else {
      this.handleRefs.delete(h);
      this.transientHandles.add(h);
    }
  }

  private addEntry(conn: Connection, peer: number, sink: ConnectionSink | null): ConnEntry {
    const e = new ConnEntry(conn, peer, sink);
    this.connections.set(conn.localSocketId, e);
    this.refHandle(peer);
    this.retain();
    this.markDirty(e);
    return e;
  }

  /** Starts a client connection to a numeric address. */
  connect(config: CoreConfig, address: string, port: number, sink: ConnectionSink): ConnEntry {
    const peer = this.engine.peer(address, port);
    const conn = Connection.connect(config, { localSocketId: this.allocSocketId(), isn: random31(config.rng), peerAddress: address, now: nowUs(), pool: this.pool });
    return this.addEntry(conn, peer, sink);
  }

  /** Starts one side of a rendezvous with a numeric address (one rendezvous per peer address). */
  rendezvous(config: CoreConfig, address: string, port: number, sink: ConnectionSink): ConnEntry {
    const peer = this.engine.peer(address, port);
    if (this.rendezvousByPeer.has(peer)) throw new UdtError(`a rendezvous with ${address}:${port} is already in progress`, 'ERR_UDT_INVALID_OP');
    const conn = Connection.rendezvous(config, { localSocketId: this.allocSocketId(), isn: random31(config.rng), peerAddress: address, now: nowUs(), pool: this.pool });
    const e = this.addEntry(conn, peer, sink);
    e.rendezvousPeer = true;
    this.rendezvousByPeer.set(peer, e);
    return e;
  }

  listen(hooks: ListenerHooks): void {
    if (this.hooks) throw new UdtError('this port already has a listener', 'ERR_UDT_INVALID_OP');
    this.hooks = hooks;
    this.listener = new Listener({ sockType: hooks.sockType, startTime: nowUs() });
    this.retain();
  }

  unlisten(): void {
    if (!this.hooks) return;
    this.hooks = null;
    this.listener = null;
    this.release();
  }

  get listening(): boolean {
    return this.hooks !== null;
  }

  /** The app acted on a connection (write/read/close): service it soon, coalescing calls within a tick. */
  kick(e: ConnEntry): void {
    this.markDirty(e);
  }

  private markDirty(e: ConnEntry): void {
    if (!e.dirty) {
      e.dirty = true;
      this.dirtyList.push(e);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        if (this.dirtyList.length > 0) this.flush(nowUs());
      });
    }
  }

  peerAddress(e: ConnEntry): PeerAddress {
    return this.engine.peerAddress(e.peer);
  }

  // ---- receive path ----

  private onReceive(b: RxBatch): void {
    const now = b.now;
    const buf = b.buf;
    for (let i = 0; i < b.count; i++) {
      const off = b.offsets[i];
      const len = b.lengths[i];
      const handle = b.peers[i];
      if (len < HEADER_SIZE) {
        this.counters.malformed++;
        this.noteTransient(handle);
        continue;
      }
      const dst = readU32(buf, off + 12);
      if (dst !== 0) {
        const e = this.connections.get(dst);
        if (!e) {
          this.counters.unknownDestination++;
          this.noteTransient(handle);
        } else if (e.peer !== handle) {
          this.counters.wrongPeer++;
          this.noteTransient(handle);
        } else {
          e.conn.handleDatagram(now, buf, off, len, b.owned, b.times ? b.times[i] : now);
          this.markDirtyNoSchedule(e);
        }
        continue;
      }
      this.onHandshakeToZero(now, buf, off, len, handle, b.owned);
    }
    // node:dgram delivers one datagram per callback: flush once per event-loop turn so a burst is one batch.
    if (this.dirtyList.length === 0) this.commitBatch();
    else if (this.engine.receivesInBatches) this.flush(nowUs());
    else this.scheduleReceiveFlush();
  }

  private scheduleReceiveFlush(): void {
    if (this.receiveFlush) return;
    this.receiveFlush = setImmediate(() => {
      this.receiveFlush = null;
      if (this.dirtyList.length > 0) this.flush(nowUs());
    });
  }

  private markDirtyNoSchedule(e: ConnEntry): void {
    if (!e.dirty) {
      e.dirty = true;
      this.dirtyList.push(e);
    }
  }

  private noteTransient(handle: number): void {
    if (!this.handleRefs.has(handle)) this.transientHandles.add(handle);
  }

  private onHandshakeToZero(now: number, buf: Buffer, off: number, len: number, handle: number, owned: boolean): void {
    const rv = this.rendezvousByPeer.get(handle);
    if (rv) {
      rv.conn.handleDatagram(now, buf, off, len, owned);
      this.markDirtyNoSchedule(rv);
      return;
    }
    this.noteTransient(handle);
    const pkt = decodePacket(buf, off, len);
    if (pkt.kind !== 'handshake') {
      this.counters.malformed++;
      return;
    }
    if (!this.listener || !this.hooks) {
      this.counters.handshakesIgnored++;
      return;
    }
    const addr = this.engine.peerAddress(handle);
    const dec = this.listener.handle(now, pkt.hs, addr.address, addr.port);
    if (dec.kind === 'ignore') {
      this.counters.handshakesIgnored++;
    } else if (dec.kind === 'reply') {
      if (dec.reject) this.counters.rejected++;
      this.sendHandshake(handle, dec.dst, dec.response);
    } else {
      this.acceptRequest(now, dec.request, handle, addr);
    }
  }

  private acceptRequest(now: number, hs: Handshake, handle: number, addr: PeerAddress): void {
    const existing = this.accepted.find(hs.socketId, handle, hs.isn);
    if (existing) {
      existing.conn.resendHandshakeResponse();
      this.markDirtyNoSchedule(existing);
      return;
    }
    const hooks = this.hooks!;
    if (!hooks.canAccept()) {
      this.counters.rejected++;
      const rej = this.listener!.reject(hs);
      if (rej.kind === 'reply') this.sendHandshake(handle, rej.dst, rej.response);
      return;
    }
    const conn = Connection.accept(hooks.makeConfig(), { localSocketId: this.allocSocketId(), peerAddress: addr.address, now, pool: this.pool }, hs);
    const e = this.addEntry(conn, handle, null);
    this.accepted.add(hs.socketId, e);
    e.sink = hooks.accept(e, addr);
  }

  /** Queues a handshake datagram that belongs to no connection (listener challenge or reject). */
  private sendHandshake(handle: number, dst: number, hs: Handshake): void {
    const b = this.batch ?? (this.batch = this.engine.txReserve());
    if (!b) return;
    writeHandshake(b.buf, b.count * b.stride, dst, hs);
    b.lengths[b.count] = 64;
    b.sendAt[b.count] = 0;
    b.peers[b.count] = handle;
    b.count++;
    if (b.count === b.capacity) this.commitBatch();
  }

  private commitBatch(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = null;
    this.engine.txCommit(b);
  }

  // ---- service, transmit, timers ----

  private flush(now: number): void {
    const list = this.dirtyList;
    this.dirtyList = [];
    for (const e of list) {
      e.dirty = false;
      e.conn.handleTimeout(now);
      this.drainEvents(e);
      if (!e.queuedTx) {
        e.queuedTx = true;
        this.txQueue.push(e);
      }
    }
    this.transmit(now);
    for (const e of list) this.afterService(e, now);
    this.maybeSweep(now);
    this.rearm(now);
  }

  private transmit(now: number): void {
    const q = this.txQueue;
    let i = 0;
    for (; i < q.length; i++) {
      const e = q[i];
      let blocked = false;
      for (;;) {
        const b = this.batch ?? (this.batch = this.engine.txReserve());
        if (!b) {
          blocked = true;
          break;
        }
        const before = b.count;
        e.conn.pollTransmit(now, b, this.horizon);
        for (let k = before; k < b.count; k++) b.peers[k] = e.peer;
        if (b.count < b.capacity) break;
        this.commitBatch();
      }
      if (blocked) break;
      e.queuedTx = false;
    }
    this.txQueue = i < q.length ? q.slice(i) : [];
    if (this.batch && this.batch.count > 0) this.commitBatch();
  }

  private onWritable(): void {
    if (this.txQueue.length === 0) return;
    for (const e of this.txQueue) this.markDirtyNoSchedule(e);
    this.flush(nowUs());
  }

  private afterService(e: ConnEntry, now: number): void {
    const c = e.conn;
    this.drainEvents(e);
    if (channels.loss.hasSubscribers && c.counters.pktRecvNAK !== e.lastNakCount) {
      e.lastNakCount = c.counters.pktRecvNAK;
      channels.loss.publish({ socketId: c.localSocketId, naksReceived: c.counters.pktRecvNAK, sendLoss: c.counters.pktSndLoss });
    }
    if (channels.rate.hasSubscribers && c.sender && Math.abs(c.sender.sendPeriod - e.lastPeriod) > e.lastPeriod * 0.1) {
      e.lastPeriod = c.sender.sendPeriod;
      channels.rate.publish({ socketId: c.localSocketId, sendPeriodUs: c.sender.sendPeriod, cwnd: c.sender.cc.cwnd });
    }
    // Pacing engines: wake for data once half the horizon is left queued in the pacer, then hand it the next half in
    // one batch (waking at the horizon's edge handed over one packet per event-loop turn: ~350k setImmediate wakes/s).
    const t = c.pollTimeout(this.horizon / 2);
    if (c.state === 'closed' && t === Infinity && !e.queuedTx) {
      this.detach(e);
      return;
    }
    this.heap.update(e, t <= now ? now : t);
  }

  private drainEvents(e: ConnEntry): void {
    let ev: ConnectionEvent | undefined;
    while ((ev = e.conn.pollEvent())) {
      if (ev.type === 'connected') {
        if (e.rendezvousPeer) this.rendezvousByPeer.delete(e.peer);
        debug('connection %d connected to peer socket %d', e.conn.localSocketId, e.conn.peerSocketId);
        if (channels.connect.hasSubscribers) channels.connect.publish({ socketId: e.conn.localSocketId, role: e.conn.role, peer: this.engine.peerAddress(e.peer) });
      } else if (ev.type === 'closed') {
        debug('connection %d closed: %s', e.conn.localSocketId, ev.reason);
        if (channels.close.hasSubscribers) channels.close.publish({ socketId: e.conn.localSocketId, reason: ev.reason, error: ev.error });
      }
      e.sink?.onConnectionEvent(ev);
    }
  }

  private detach(e: ConnEntry): void {
    if (this.connections.get(e.conn.localSocketId) !== e) return;
    this.connections.delete(e.conn.localSocketId);
    if (e.conn.role === 'server') this.accepted.remove(e.conn.peerSocketId, e);
    if (e.rendezvousPeer && this.rendezvousByPeer.get(e.peer) === e) this.rendezvousByPeer.delete(e.peer);
    this.heap.remove(e);
    this.unrefHandle(e.peer);
    e.sink?.onDetached?.();
    this.release();
  }

  private onTimer(): void {
    this.timer = null;
    this.immediate = null;
    this.timerAt = Infinity;
    const now = nowUs();
    let e: ConnEntry | undefined;
    while ((e = this.heap.popDue(now))) this.markDirtyNoSchedule(e);
    if (this.dirtyList.length > 0) this.flush(now);
    else this.rearm(now);
  }

  private rearm(now: number): void {
    const top = this.heap.peek();
    const at = top ? top.deadline : Infinity;
    if (this.closed) return;
    // A pending wake at or before the new deadline stays: it fires, finds nothing due, and re-arms.
    if (this.timerAt <= at && (this.timer || this.immediate)) return;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.timerAt = at;
    if (at === Infinity) return;
    const delay = at - now;
    // Short waits spin through setImmediate only without a pacing thread (the dgram engine paces in bursts per
    // event-loop turn at high rates); anything further off, and everything with a pacing thread, uses a timer.
    if (delay <= 0 || (delay < IMMEDIATE_WAIT_US && this.horizon === 0)) {
      this.immediate = setImmediate(() => this.onTimer());
    } else {
      // Round up: a timer that fires before the deadline finds nothing due and re-arms through setImmediate, which
      // spins the event loop for the rest of the millisecond (measured: 1-3% CPU per 1000 idle connections).
      this.timer = setTimeout(() => this.onTimer(), Math.max(1, Math.ceil(delay / 1000)));
      this.timer.unref();
    }
  }

  /** Gives idle peer handles (garbage senders, finished handshakes) back to the engine. */
  private maybeSweep(now: number): void {
    if (now - this.lastSweep < HANDLE_SWEEP_US) return;
    this.lastSweep = now;
    for (const h of this.transientHandles) {
      if (!this.handleRefs.has(h) && !this.rendezvousByPeer.has(h)) this.engine.releasePeer(h);
    }
    this.transientHandles = new Set();
    this.pool.shrink();
  }

  private onEngineError(err: Error): void {
    debug('endpoint engine error: %s', err.message);
    for (const e of [...this.connections.values()]) {
      e.conn.destroy();
      e.sink?.onEndpointError?.(err);
      this.detach(e);
    }
    void this.shutdown();
  }

  /** Engine-level figures plus the endpoint's own counters. */
  stats(): ReturnType<Engine['stats']> & EndpointCounters & { connections: number; poolBytes: number } {
    return { ...this.engine.stats(), ...this.counters, connections: this.connections.size, poolBytes: this.pool.bytesAllocated };
  }

  private async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.receiveFlush) clearImmediate(this.receiveFlush);
    this.commitBatch();
    this.onClose?.();
    debug('endpoint %s:%d closed', this.bound.address, this.bound.port);
    await this.engine.close();
  }
}
