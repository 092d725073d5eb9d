// Handshake state machines for the connecting side: client → listener, and rendezvous (spec §5.3-5.5).

import type { CloseReason } from './errors.js';
import { ReqType, UDT_VERSION, type Handshake } from './packet.js';

/** What the connecting side learned from the peer once the handshake completes. */
export interface PeerParams {
  peerSocketId: number;
  peerIsn: number;
  mss: number;
  peerFlowWindow: number;
}

export type HandshakeOutcome =
  | { kind: 'ignore' }
  | { kind: 'resend' }
  | { kind: 'established'; peer: PeerParams }
  | { kind: 'failed'; reason: CloseReason };

export interface HandshakeLocal {
  socketId: number;
  isn: number;
  sockType: number;
  mss: number;
  /** What we advertise in word 4: min(receive buffer packets, flow window). */
  flowWindow: number;
  /** The peer's address in handshake byte form. */
  peerIp: Uint8Array;
}

const IGNORE: HandshakeOutcome = { kind: 'ignore' };
const RESEND: HandshakeOutcome = { kind: 'resend' };

export function buildHandshake(local: HandshakeLocal, reqType: number, cookie: number): Handshake {
  return {
    version: UDT_VERSION,
    sockType: local.sockType,
    isn: local.isn,
    mss: local.mss,
    flowWindow: local.flowWindow,
    reqType,
    socketId: local.socketId,
    cookie,
    peerIp: local.peerIp,
  };
}

/** Client side: request (type 1), echo the cookie (type -1), accept the response whose ISN echoes ours. */
export class ClientHandshake {
  reqType: number = ReqType.Regular;
  cookie = 0;

  constructor(readonly local: HandshakeLocal) {}

  request(): Handshake {
    return buildHandshake(this.local, this.reqType, this.cookie);
  }

  /** Requests to a listener always carry destination id 0. */
  get destination(): number {
    return 0;
  }

  onHandshake(hs: Handshake): HandshakeOutcome {
    if (hs.reqType === ReqType.Rejected) return { kind: 'failed', reason: 'rejected' };
    if (hs.reqType === ReqType.Regular) {
      // A cookie challenge (again, if the listener's cookie rolled over): echo it with type -1 at once.
      if (hs.socketId !== this.local.socketId) return IGNORE;
      this.reqType = ReqType.Response;
      this.cookie = hs.cookie;
      return RESEND;
    }
    if (this.reqType === ReqType.Regular || hs.reqType > 0) return IGNORE;
    if (hs.isn !== this.local.isn) return { kind: 'failed', reason: 'security' };
    return {
      kind: 'established',
      peer: { peerSocketId: hs.socketId, peerIsn: hs.isn, mss: hs.mss, peerFlowWindow: hs.flowWindow },
    };
  }
}

/** Rendezvous: both sides send type 0, switch to -1 on hearing the peer, connect when both are at -1 (or -2). */
export class RendezvousHandshake {
  reqType: number = ReqType.Rendezvous;
  private peer: PeerParams | null = null;

  constructor(readonly local: HandshakeLocal) {}

  request(): Handshake {
    return buildHandshake(this.local, this.reqType, 0);
  }

  get destination(): number {
    return this.peer?.peerSocketId ?? 0;
  }

  /** The handshake recorded from the peer, if any (a data or keep-alive packet then completes the connection). */
  get recorded(): PeerParams | null {
    return this.peer;
  }

  onHandshake(hs: Handshake): HandshakeOutcome {
    if (hs.reqType === ReqType.Regular || hs.reqType === ReqType.Rejected) return IGNORE;
    if (hs.version === UDT_VERSION) {
      if (hs.sockType !== this.local.sockType) return IGNORE;
      this.peer = { peerSocketId: hs.socketId, peerIsn: hs.isn, mss: hs.mss, peerFlowWindow: hs.flowWindow };
    }
    if (!this.peer) return IGNORE;
    if (this.reqType === ReqType.Rendezvous || hs.reqType === ReqType.Rendezvous) {
      this.reqType = ReqType.Response;
      return RESEND;
    }
    return { kind: 'established', peer: this.peer };
  }
}
