// The sans-I/O UDT connection: datagrams and time in, datagrams, deadlines and events out (quinn-proto style).

import type { CoreConfig } from './config.js';
import { errorForReason, InvalidOperationError, MessageTooLargeError, PeerClosedError, type CloseReason, type UdtError } from './errors.js';
import { EventQueue, type ConnectionEvent } from './event-queue.js';
import type { PeerParams } from './handshake.js';
import { HandshakeDriver, type ConnectionRole } from './handshake-driver.js';
import { CtrlType, decodePacket, HEADER_SIZE, readU32, writeEmptyControl, type ControlPacket, type Handshake } from './packet.js';
import type { ReceivedMessage } from './recv-buffer.js';
import { Receiver } from './receiver.js';
import { Sender } from './sender.js';
import type { SlotPool } from './slot-pool.js';
import { ConnectionCounters } from './stats.js';
import { commitSlot, nextSlot, type TransmitBuffer } from './transmit.js';
import { Timer, TimerTable } from './timers.js';

export type { ConnectionEvent } from './event-queue.js';
export type { ConnectionRole } from './handshake-driver.js';
export type ConnectionState = 'connecting' | 'connected' | 'closing' | 'closed';

export interface ConnectionParams {
  /** Our socket id (positive 31-bit). */
  localSocketId: number;
  /** Our initial sequence number (a server uses the client's). */
  isn: number;
  /** The peer's numeric address as we see it (for the handshake's peer-IP field). */
  peerAddress: string;
  now: number;
  /** Shared slot pool for payload copies (when the engine's buffers are reused); optional. */
  pool?: SlotPool | null;
}

const HANDSHAKE_RETRY_US = 250_000;
const MIN_EXP_US = 300_000;
const SYN_US = 10_000;
/**
 * How long a server or rendezvous side keeps its first data back unless the peer speaks first (Sender.holdNewData).
 * A libudt client took 1-5 ms on loopback to register after our response; our own peers send a keep-alive at once.
 */
const FIRST_DATA_HOLD_US = 20_000;
/** Keep-alive deadlines fall on a grid of this many steps per keep-alive interval (see keepAliveAt). */
const KEEPALIVE_GRID_PARTS = 64;
const KEEPALIVE: ControlPacket = { kind: 'keepalive', dst: 0 };

export class Connection {
  readonly counters = new ConnectionCounters();
  state: ConnectionState = 'connecting';
  peerSocketId = 0;
  /** Negotiated max packet size (MSS), valid once connected. */
  mss: number;
  closeReason: CloseReason | null = null;
  sender: Sender | null = null;
  receiver: Receiver | null = null;
  /** Set when the receive side can take no more (the app stopped reading). */
  readonly startTime: number;
  private readonly timers = new TimerTable();
  private readonly events = new EventQueue();
  private readonly hs: HandshakeDriver;
  private shutdownDue = false;
  private keepAliveDue = false;
  private writeBlocked = false;
  private expCount = 1;
  private lastRecvTime: number;
  private lastSendTime: number;
  private expBase: number;
  private closeError: UdtError | null = null;
  private readonly pool: SlotPool | null;

  private constructor(
    readonly config: CoreConfig,
    role: ConnectionRole,
    params: ConnectionParams,
  ) {
    this.mss = config.mss;
    this.startTime = params.now;
    this.lastRecvTime = params.now;
    this.lastSendTime = params.now;
    this.expBase = params.now;
    this.pool = params.pool ?? null;
    this.hs = new HandshakeDriver(config, role, params.localSocketId, params.isn, params.peerAddress);
  }

  get role(): ConnectionRole {
    return this.hs.role;
  }

  get localSocketId(): number {
    return this.hs.localSocketId;
  }

  /** Our initial sequence number (a server's is the client's). */
  get isn(): number {
    return this.hs.isn;
  }

  /** A client connecting to a listener. */
  static connect(config: CoreConfig, params: ConnectionParams): Connection {
    const c = new Connection(config, 'client', params);
    c.startHandshake(params.now);
    return c;
  }

  /** One side of a rendezvous connection. */
  static rendezvous(config: CoreConfig, params: ConnectionParams): Connection {
    const c = new Connection(config, 'rendezvous', params);
    c.startHandshake(params.now);
    return c;
  }

  /**
   * The server side, created by a listener from a verified connection request. Uses the client's ISN for its own
   * data (as libudt does) and queues the handshake response.
   */
  static accept(config: CoreConfig, params: Omit<ConnectionParams, 'isn'>, request: Handshake): Connection {
    const c = new Connection(config, 'server', { ...params, isn: request.isn });
    const mss = Math.min(request.mss, config.mss);
    c.hs.answer(request.cookie);
    c.establish(params.now, { peerSocketId: request.socketId, peerIsn: request.isn, mss, peerFlowWindow: request.flowWindow });
    c.sender!.holdNewData(params.now + FIRST_DATA_HOLD_US);
    return c;
  }

  private startHandshake(now: number): void {
    this.hs.sendRequest();
    this.timers.set(Timer.HandshakeRetry, now + HANDSHAKE_RETRY_US);
    this.timers.set(Timer.ConnectDeadline, now + this.config.connectTimeoutUs);
  }

  /** The handshake response a listener re-sends when the client repeats its request. */
  resendHandshakeResponse(): void {
    if (this.state !== 'closed') this.hs.resendResponse();
  }

  // ---- application side ----

  /** Stream mode: queues as much of `data` as the send buffer takes; returns the byte count taken. */
  write(data: Uint8Array, now: number): number {
    const s = this.requireSender('write');
    if (this.config.sockType !== 1) throw new InvalidOperationError('write() is for stream mode; use sendMessage()');
    const wasIdle = s.buffer.packets === 0;
    const pacerIdle = s.buffer.unsentPackets === 0;
    const n = s.buffer.writeStream(data);
    if (n < data.length) this.writeBlocked = true;
    if (n > 0) this.onQueued(now, wasIdle, pacerIdle);
    return n;
  }

  /** Message mode: queues one whole message (TTL in ms, -1 = forever); false when it does not fit right now. */
  sendMessage(data: Uint8Array, now: number, ttlMs = -1, inOrder = true): boolean {
    const s = this.requireSender('sendMessage');
    if (this.config.sockType !== 2) throw new InvalidOperationError('sendMessage() is for message mode; use write()');
    const max = s.buffer.maxPackets * s.buffer.payloadSize;
    if (data.length > max) throw new MessageTooLargeError(data.length, max);
    const wasIdle = s.buffer.packets === 0;
    const pacerIdle = s.buffer.unsentPackets === 0;
    const deadline = ttlMs >= 0 ? now + ttlMs * 1000 : Infinity;
    if (!s.buffer.writeMessage(data, deadline, inOrder)) {
      this.writeBlocked = true;
      return false;
    }
    this.onQueued(now, wasIdle, pacerIdle);
    return true;
  }

  /** Stream mode: up to `max` bytes received in order, or null. */
  read(max = Infinity): Uint8Array | null {
    const r = this.receiver;
    if (!r) return null;
    const out = r.buffer.readStream(max);
    if (out) r.onAppRead();
    return out;
  }

  /** Message mode: the next whole message, or null. */
  readMessage(): ReceivedMessage | null {
    const r = this.receiver;
    if (!r) return null;
    const m = r.buffer.readMessage();
    this.drainDrops();
    if (m) r.onAppRead();
    return m;
  }

  /** Bytes (stream) ready to read now. */
  get readableBytes(): number {
    return this.receiver?.buffer.readableBytes ?? 0;
  }

  /** Packets the send buffer can still take. */
  get sendBufferFreePackets(): number {
    return this.sender ? this.sender.buffer.freePackets : 0;
  }

  /** Payload bytes queued and not yet acknowledged. */
  get sendBufferedBytes(): number {
    return this.sender?.buffer.bufferedBytes ?? 0;
  }

  /** Graceful close: deliver what is queued (up to the linger time), then SHUTDOWN once. */
  close(now: number): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    if (this.state === 'connecting') {
      this.finish('local-close');
      return;
    }
    this.state = 'closing';
    this.timers.set(Timer.Linger, now + this.config.lingerUs);
    this.checkClosingDone();
  }

  /** Immediate close: SHUTDOWN once if connected, drop everything. */
  destroy(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'connecting') this.shutdownDue = true;
    this.finish('destroyed');
  }

  // ---- network side ----

  /**
   * One received datagram for this connection. `owned`: the bytes may be kept without copying. `arrival`: when it
   * reached the host (µs, same clock), for the arrival-speed and capacity estimates that one batch time would flatten.
   */
  handleDatagram(now: number, buf: Uint8Array, off: number, len: number, owned = false, arrival = now): void {
    const c = this.counters;
    c.wireBytesRecv += len;
    if (this.state === 'closed') return;
    if (len < HEADER_SIZE) {
      c.ctrlIgnored++;
      return;
    }
    if ((buf[off] & 0x80) === 0) {
      this.handleData(now, buf, off, len, owned, arrival);
      this.sender?.releaseNewData();
      return;
    }
    // Keep-alives, an idle connection's only traffic, carry nothing to decode.
    const pkt = buf[off] === 0x80 && buf[off + 1] === CtrlType.KeepAlive ? KEEPALIVE : decodePacket(buf, off, len);
    if (pkt.kind === 'malformed' || pkt.kind === 'data') {
      c.ctrlIgnored++;
      return;
    }
    // A keep-alive proves the peer alive but says nothing about our unacknowledged data: restarting EXP on it would
    // stall a lost tail forever once the peer's keep-alive period is shorter than our EXP interval. The same goes for
    // an ACK that repeats the last one (libudt repeats it every RTT + 4 RTTVar and never re-NAKs: a hole whose
    // retransmission was lost would then wait for our head-of-line timer, one hole per ACK interval).
    if (pkt.kind === 'keepalive' || (pkt.kind === 'ack' && this.sender?.isStaleAck(pkt.ackNo))) this.lastRecvTime = now;
    else this.heard(now);
    this.handleControl(now, pkt);
    if (pkt.kind !== 'handshake') this.sender?.releaseNewData();
  }

  private heard(now: number): void {
    this.lastRecvTime = now;
    this.expCount = 1;
    if (now > this.expBase) this.expBase = now;
  }

  private handleData(now: number, buf: Uint8Array, off: number, len: number, owned: boolean, arrival: number): void {
    if (len === HEADER_SIZE) {
      this.counters.ctrlIgnored++;
      return;
    }
    if (this.state === 'connecting') {
      const recorded = this.hs.recorded;
      if (!recorded) return;
      this.establish(now, recorded);
    }
    const r = this.receiver!;
    if (len - HEADER_SIZE > this.config.payloadSize) {
      // Larger than our own MSS allows (a libudt rendezvous peer may use our MSS): it would not fit a payload slot.
      this.counters.ctrlIgnored++;
      return;
    }
    this.heard(now);
    const seq = readU32(buf, off);
    if (r.onData(now, seq, readU32(buf, off + 4), buf, off + HEADER_SIZE, len - HEADER_SIZE, owned, arrival)) {
      if (r.buffer.readableBytes > 0 || r.buffer.hasReadyMessage) this.events.readablePending = true;
    }
  }

  private handleControl(now: number, pkt: ControlPacket): void {
    const c = this.counters;
    if (pkt.kind === 'handshake') {
      this.handleHandshake(now, pkt.hs);
      return;
    }
    if (this.state === 'connecting') {
      const recorded = this.hs.recorded;
      if (pkt.kind === 'keepalive' && recorded) this.establish(now, recorded);
      else return;
    }
    const s = this.sender!;
    const r = this.receiver!;
    switch (pkt.kind) {
      case 'keepalive':
        c.pktRecvKeepAlive++;
        break;
      case 'ack': {
        const freeBefore = s.buffer.freePackets;
        if (pkt.light) s.onLightAck(pkt.ackNo);
        else s.onFullAck(now, pkt.ackSeq, pkt.ackNo, pkt.rtt, pkt.avail, pkt.rate, pkt.capacity);
        if (s.buffer.freePackets > freeBefore) this.onSendSpace();
        this.checkClosingDone();
        break;
      }
      case 'nak':
        s.onNak(now, pkt.entries);
        break;
      case 'cwarn':
        s.onCongestionWarning();
        break;
      case 'shutdown':
        this.shutdownDue = false;
        if (s.buffer.packets > 0) this.closeError = new PeerClosedError();
        this.finish('peer-shutdown');
        break;
      case 'ack2':
        c.pktRecvACK2++;
        r.onAck2(now, pkt.ackSeq);
        break;
      case 'drop':
        c.pktRecvDrop++;
        if (this.config.sockType === 2) {
          r.onMsgDrop(pkt.first, pkt.last, pkt.msgNo);
          if (r.buffer.hasReadyMessage) this.events.readablePending = true;
        } else {
          c.ctrlIgnored++;
        }
        break;
      case 'error':
        this.shutdownDue = true;
        this.finish('peer-error', String(pkt.code));
        break;
      case 'user':
        s.cc.onUserPacket?.(pkt.extType, pkt.body);
        break;
    }
  }

  private handleHandshake(now: number, hs: Handshake): void {
    if (this.state === 'connecting') {
      const out = this.hs.onConnecting(hs);
      if (out?.kind === 'failed') this.finish(out.reason);
      else if (out?.kind === 'established') this.establish(now, out.peer);
      return;
    }
    if (this.state !== 'closed') this.hs.onConnected(hs);
  }

  private establish(now: number, peer: PeerParams): void {
    const cfg = this.config;
    this.peerSocketId = peer.peerSocketId;
    // libudt clients take the listener's MSS (already the min) and rendezvous peers take the peer's; we never
    // exceed our own configured MSS so our buffers and the engine's slots always fit.
    this.mss = Math.max(76, Math.min(peer.mss, cfg.mss));
    const payloadSize = this.mss - 44;
    this.sender = new Sender(this.counters, {
      isn: this.isn,
      mss: this.mss,
      payloadSize,
      bufferPackets: cfg.sndBufPackets,
      peerFlowWindow: peer.peerFlowWindow,
      maxBandwidth: cfg.maxBandwidth,
      controller: cfg.makeController(),
      random: cfg.rng,
    });
    this.receiver = new Receiver(
      this.counters,
      payloadSize,
      cfg.rcvBufPackets,
      peer.peerIsn,
      cfg.sockType === 2,
      this.pool,
      cfg.periodicNak,
    );
    this.sender.start(now);
    this.state = 'connected';
    this.timers.clearAll();
    this.hs.established();
    // Tells a server or rendezvous peer that holds its first data back (Sender.holdNewData) that we are ready for it.
    if (this.role !== 'server') this.keepAliveDue = true;
    // A libudt rendezvous peer, like a libudt client, drops data that beats the end of its own connect().
    if (this.role === 'rendezvous') this.sender.holdNewData(now + FIRST_DATA_HOLD_US);
    this.lastRecvTime = now;
    this.expBase = now;
    this.pushEvent({ type: 'connected' });
  }

  private requireSender(op: string): Sender {
    if (!this.sender || this.state === 'closed' || this.state === 'closing') {
      throw new InvalidOperationError(`${op}() needs an open, connected socket (state: ${this.state})`);
    }
    return this.sender;
  }

  private onQueued(now: number, wasIdle: boolean, pacerIdle: boolean): void {
    if (wasIdle && now > this.expBase) this.expBase = now;
    this.sender!.onNewData(now, pacerIdle);
  }

  private onSendSpace(): void {
    if (this.writeBlocked && this.sender!.buffer.freePackets > 0) {
      this.writeBlocked = false;
      this.pushEvent({ type: 'writable' });
    }
  }

  private checkClosingDone(): void {
    if (this.state === 'closing' && this.sender!.buffer.packets === 0) {
      this.shutdownDue = true;
      this.finish('local-close');
    }
  }

  private finish(reason: CloseReason, detail?: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    this.hs.cancel();
    this.keepAliveDue = false;
    const error = this.closeError ?? errorForReason(reason, detail);
    this.timers.clearAll();
    this.drainDrops();
    this.pushEvent({ type: 'closed', reason, error });
  }

  private pushEvent(ev: ConnectionEvent): void {
    this.events.push(ev);
  }

  private drainDrops(): void {
    const drops = this.receiver?.buffer.droppedMsgNos;
    if (!drops || drops.length === 0) return;
    for (const msgNo of drops) this.pushEvent({ type: 'message-dropped', msgNo });
    this.counters.msgRecvDropped += drops.length;
    drops.length = 0;
  }

  // ---- driver side ----

  /** The next event, or undefined. */
  pollEvent(): ConnectionEvent | undefined {
    return this.events.poll();
  }

  /**
   * Exact time (µs) the connection next needs handleTimeout/pollTransmit, or Infinity. With a pacing engine, pass
   * the same `horizon` as to pollTransmit: data due within it is reported that much earlier.
   */
  pollTimeout(horizon = 0): number {
    if (this.hs.pending || this.shutdownDue || this.keepAliveDue) return 0;
    if (this.state === 'closed') return Infinity;
    let t = this.timers.next();
    if (this.state === 'connecting') return t;
    const s = this.sender!;
    const r = this.receiver!;
    t = Math.min(t, r.nextDeadline(), s.nextDeadline() - horizon, this.lastRecvTime + this.config.idleTimeoutUs);
    t = Math.min(t, this.keepAliveAt());
    if (s.hasUnacked) t = Math.min(t, this.expBase + this.expInterval());
    return t;
  }

  /**
   * When a keep-alive falls due: the keep-alive interval after our last datagram, rounded up to a grid shared by every
   * connection with that interval, so a port's idle connections wake (and send) together rather than each on its own.
   */
  private keepAliveAt(): number {
    const grid = this.config.keepAliveUs / KEEPALIVE_GRID_PARTS;
    return Math.ceil((this.lastSendTime + this.config.keepAliveUs) / grid) * grid;
  }

  private expInterval(): number {
    const s = this.sender!;
    return Math.max(this.expCount * (s.rtt + 4 * s.rttVar) + SYN_US, this.expCount * MIN_EXP_US);
  }

  /** Runs every timer that is due at `now`. */
  handleTimeout(now: number): void {
    if (this.state === 'closed') return;
    const t = this.timers;
    if (this.state === 'connecting') {
      if (t.due(Timer.ConnectDeadline, now)) {
        this.finish('connect-timeout');
        return;
      }
      if (t.due(Timer.HandshakeRetry, now)) {
        this.hs.sendRequest();
        t.set(Timer.HandshakeRetry, now + HANDSHAKE_RETRY_US);
      }
      return;
    }
    if (now >= this.lastRecvTime + this.config.idleTimeoutUs) {
      this.finish('peer-dead');
      return;
    }
    if (t.due(Timer.Linger, now)) {
      this.shutdownDue = true;
      this.finish('linger-timeout');
      return;
    }
    const s = this.sender!;
    s.onTimer(now);
    if (s.hasUnacked && now >= this.expBase + this.expInterval()) {
      s.onExpTimeout(now);
      this.expCount++;
      this.expBase = now;
    }
    if (now >= this.keepAliveAt()) {
      this.keepAliveDue = true;
      s.trim();
      this.receiver!.trim();
    }
  }

  /**
   * Appends datagrams that are due by `now + horizon` to `out` (control first, then paced data). With horizon > 0
   * data packets carry their intended send times in `out.sendAt` for a pacing engine.
   */
  pollTransmit(now: number, out: TransmitBuffer, horizon = 0): void {
    const start = out.count;
    if (this.hs.pending) this.hs.write(out, this.state === 'connecting', this.mss, this.peerSocketId);
    if (this.state === 'connected' || this.state === 'closing') {
      const s = this.sender!;
      const dst = this.peerSocketId;
      // Due data (a reply, say) first, then the receiver's ACKs and NAKs: all go out in the same batch.
      s.pollControl(out, dst);
      s.pollData(now, horizon, out, dst, (now - this.startTime) >>> 0);
      s.pollControl(out, dst);
      this.receiver!.pollControl(now, out, dst);
    }
    if (this.keepAliveDue && out.count === start && out.count < out.capacity && this.state !== 'connecting') {
      commitSlot(out, writeEmptyControl(out.buf, nextSlot(out), CtrlType.KeepAlive, 0, this.peerSocketId), 0);
      this.counters.pktSentKeepAlive++;
    }
    if (this.shutdownDue && out.count < out.capacity) {
      // Our app may have read data we have not ACKed yet: say so first, or the peer's sender (which must wait for
      // everything ACKed before closing) reports those packets as undelivered.
      if (this.closeReason === 'local-close') this.receiver?.pollFinalAck(now, out, this.peerSocketId);
      if (out.count < out.capacity) {
        commitSlot(out, writeEmptyControl(out.buf, nextSlot(out), CtrlType.Shutdown, 0, this.peerSocketId), 0);
        this.shutdownDue = false;
      }
    }
    if (out.count > start) {
      this.keepAliveDue = false;
      this.lastSendTime = now;
      for (let i = start; i < out.count; i++) this.counters.wireBytesSent += out.lengths[i];
    }
  }
}
