// Stateless listener logic: SYN-cookie challenges, request validation and rejects (spec §5.4); no sockets, no clock.

import { createHmac, randomBytes } from 'node:crypto';
import { ReqType, UDT_VERSION, type Handshake } from './packet.js';

/** Cookie time bucket length, µs (libudt rolls its secret every minute). */
export const COOKIE_BUCKET_US = 60_000_000;

export interface ListenerSettings {
  sockType: number;
  /** Listener start time on the caller's µs clock (cookie buckets count from it). */
  startTime: number;
  /** Secret key for cookies; random by default. */
  secret?: Uint8Array;
}

export type ListenerDecision =
  /** Send `response` to the client (cookie challenge or reject), destination = the client's socket id. */
  | { kind: 'reply'; response: Handshake; dst: number; reject: boolean }
  /** A verified request: create (or find) the connection and answer with its response. */
  | { kind: 'accept'; request: Handshake }
  | { kind: 'ignore'; reason: 'bad-cookie' | 'rendezvous' | 'not-request' };

export class Listener {
  private readonly secret: Uint8Array;
  challenges = 0;
  badCookies = 0;
  rejects = 0;

  constructor(private readonly settings: ListenerSettings) {
    this.secret = settings.secret ?? randomBytes(32);
  }

  /** A keyed hash of the client's address, port and the time bucket, as a signed 32-bit value. */
  cookie(address: string, port: number, bucket: number): number {
    const mac = createHmac('sha256', this.secret).update(`${address}:${port}:${bucket}`).digest();
    return mac.readInt32BE(0);
  }

  private bucket(now: number): number {
    return Math.floor((now - this.settings.startTime) / COOKIE_BUCKET_US);
  }

  /** Decides what to do with a handshake sent to destination 0 from `address`:`port`. */
  handle(now: number, hs: Handshake, address: string, port: number): ListenerDecision {
    if (hs.reqType === ReqType.Rendezvous) return { kind: 'ignore', reason: 'rendezvous' };
    const bucket = this.bucket(now);
    if (hs.reqType === ReqType.Regular) {
      this.challenges++;
      return { kind: 'reply', response: { ...hs, cookie: this.cookie(address, port, bucket) }, dst: hs.socketId, reject: false };
    }
    if (hs.reqType !== ReqType.Response) return { kind: 'ignore', reason: 'not-request' };
    // Unlike libudt (quirk Q3) the previous bucket's cookie is honoured too, so a minute boundary never fails.
    if (hs.cookie !== this.cookie(address, port, bucket) && hs.cookie !== this.cookie(address, port, bucket - 1)) {
      this.badCookies++;
      return { kind: 'ignore', reason: 'bad-cookie' };
    }
    if (hs.version !== UDT_VERSION || hs.sockType !== this.settings.sockType) return this.reject(hs);
    return { kind: 'accept', request: hs };
  }

  /** A 1002 answer to a verified request that cannot be served (mismatch, backlog full). */
  reject(hs: Handshake): ListenerDecision {
    this.rejects++;
    return { kind: 'reply', response: { ...hs, reqType: ReqType.Rejected }, dst: hs.socketId, reject: true };
  }
}
