// The handshake datagrams a connection owes: requests until connected, a listener's response, replies to a peer still handshaking.

import type { CoreConfig } from './config.js';
import { buildHandshake, ClientHandshake, RendezvousHandshake, type HandshakeLocal, type HandshakeOutcome, type PeerParams } from './handshake.js';
import { ipToBytes, ReqType, writeHandshake, type Handshake } from './packet.js';
import { commitSlot, nextSlot, type TransmitBuffer } from './transmit.js';

export type ConnectionRole = 'client' | 'server' | 'rendezvous';

export class HandshakeDriver {
  /** Until connected (client, rendezvous). */
  private handshaker: ClientHandshake | RendezvousHandshake | null;
  /** A request (connecting) or the listener's response (server) is due. */
  private due = false;
  /** Server: the cookie of the request we answered, echoed whenever the client repeats it. */
  private cookie = 0;
  /** Connected: the request type of the reply owed to a peer that is still handshaking (0: none). */
  private replyType = 0;

  constructor(
    private readonly config: CoreConfig,
    readonly role: ConnectionRole,
    readonly localSocketId: number,
    /** Our initial sequence number (a server's is the client's). */
    readonly isn: number,
    /** The peer's numeric address; handshakes carry it in byte form, built when one goes out. */
    private readonly peerAddress: string,
  ) {
    this.handshaker = role === 'client' ? new ClientHandshake(this.local()) : role === 'rendezvous' ? new RendezvousHandshake(this.local()) : null;
  }

  private local(): HandshakeLocal {
    const cfg = this.config;
    return {
      socketId: this.localSocketId,
      isn: this.isn,
      sockType: cfg.sockType,
      mss: cfg.mss,
      flowWindow: Math.min(cfg.rcvBufPackets, cfg.flowWindow),
      peerIp: ipToBytes(this.peerAddress),
    };
  }

  /** A handshake datagram waits to go out. */
  get pending(): boolean {
    return this.due || this.replyType !== 0;
  }

  /** Connecting: send the current request (first try or retry). */
  sendRequest(): void {
    this.due = true;
  }

  /** Server: answer the request carrying `cookie`, now and whenever the client repeats it (see resendResponse). */
  answer(cookie: number): void {
    this.cookie = cookie;
    this.due = true;
  }

  resendResponse(): void {
    if (this.role === 'server') this.due = true;
  }

  /** Rendezvous: the peer's parameters once its handshake was seen (its data or keep-alive then completes ours). */
  get recorded(): PeerParams | null {
    return this.handshaker instanceof RendezvousHandshake ? this.handshaker.recorded : null;
  }

  /** A handshake received while connecting. */
  onConnecting(hs: Handshake): HandshakeOutcome | null {
    if (!this.handshaker) return null;
    const out = this.handshaker.onHandshake(hs);
    if (out.kind === 'resend') this.due = true;
    return out;
  }

  /** A handshake received once connected: answer a peer that is still handshaking (libudt does the same). */
  onConnected(hs: Handshake): void {
    if (this.role === 'rendezvous' && hs.reqType !== ReqType.RendezvousConnected) this.replyType = ReqType.RendezvousConnected;
    else if (this.role !== 'rendezvous' && hs.reqType > 0) this.replyType = ReqType.Response;
  }

  established(): void {
    this.handshaker = null;
    if (this.role !== 'server') this.due = false;
  }

  /** Nothing more goes out (the connection closed). */
  cancel(): void {
    this.due = false;
    this.replyType = 0;
  }

  /** Appends the handshake that is due, if any; `mss` is the negotiated one once connected. */
  write(out: TransmitBuffer, connecting: boolean, mss: number, peerSocketId: number): void {
    if (out.count >= out.capacity) return;
    let hs: Handshake;
    let dst: number;
    if (this.due && connecting && this.handshaker) {
      hs = this.handshaker.request();
      dst = this.handshaker.destination;
    } else if (this.due && this.role === 'server') {
      hs = { ...buildHandshake(this.local(), ReqType.Response, this.cookie), mss };
      dst = peerSocketId;
    } else if (this.replyType !== 0 && !connecting) {
      hs = { ...buildHandshake(this.local(), this.replyType, 0), mss };
      dst = peerSocketId;
    } else {
      this.due = false;
      return;
    }
    this.due = false;
    this.replyType = 0;
    commitSlot(out, writeHandshake(out.buf, nextSlot(out), dst, hs), 0);
  }
}
