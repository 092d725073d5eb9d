// A connection as an endpoint holds it: its core, its peer handle, its place in the timer heap, and who gets its events.

import type { CoreConfig } from '../core/config.js';
import type { Connection, ConnectionEvent } from '../core/connection.js';
import type { PeerAddress } from '../engine/engine.js';
import type { HeapItem } from './deadline-heap.js';

/** Receives a connection's events; implemented by the public socket. */
export interface ConnectionSink {
  onConnectionEvent(ev: ConnectionEvent): void;
  /** The connection is gone from the endpoint (closed and flushed). */
  onDetached?(): void;
  /** The UDP socket failed; the connection cannot continue. */
  onEndpointError?(err: Error): void;
}

export interface ListenerHooks {
  sockType: number;
  makeConfig(): CoreConfig;
  /** May a new connection be accepted now (max connections)? */
  canAccept(): boolean;
  /** A new server-side connection; returns the sink for its events. */
  accept(entry: ConnEntry, peer: PeerAddress): ConnectionSink;
}

export class ConnEntry implements HeapItem {
  deadline = Infinity;
  heapIndex = -1;
  dirty = false;
  queuedTx = false;
  /** The next accepted connection whose client used the same socket id (see AcceptedIndex). */
  nextSameClientId: ConnEntry | null = null;
  rendezvousPeer = false;
  lastNakCount = 0;
  lastPeriod = 0;
  constructor(
    readonly conn: Connection,
    readonly peer: number,
    public sink: ConnectionSink | null,
  ) {}
}
