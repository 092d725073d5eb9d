// Loads udx-native (an optional devDependency, the comparison peer) with the few types the benchmarks use.

import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

export interface UdxAddress {
  host: string;
  family: number;
  port: number;
}

export interface UdxSocket extends EventEmitter {
  bind(port: number, host: string): void;
  address(): UdxAddress;
  trySend(data: Uint8Array, port: number, host: string): void;
  close(): Promise<void>;
}

export interface UdxStream extends EventEmitter {
  readonly id: number;
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  write(data: Uint8Array): boolean;
  end(): void;
  destroy(): void;
}

export interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}

export interface UdxLoad {
  udx: Udx | null;
  version?: string;
  reason?: string;
}

/** A new UDX instance, or null and why (not installed, or its prebuilt binary does not load here). */
export function loadUdx(): UdxLoad {
  const require = createRequire(import.meta.url);
  try {
    const UDX = require('udx-native') as new () => Udx;
    const { version } = require('udx-native/package.json') as { version: string };
    return { udx: new UDX(), version };
  } catch (err) {
    return { udx: null, reason: `udx-native unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
}

/**
 * The server side of the benchmarks' stream announcement (UDX has no handshake): a client sends "clientId serverId"
 * as a plain datagram for each stream; the server opens that stream once and answers every announcement with its id.
 */
export function acceptUdxStreams(udx: Udx, sock: UdxSocket, onStream: (st: UdxStream) => void = () => {}): Map<number, UdxStream> {
  const streams = new Map<number, UdxStream>();
  sock.on('message', (msg: Buffer, from: UdxAddress) => {
    const [clientId, serverId] = msg.toString().split(' ').map(Number);
    if (!streams.has(serverId)) {
      const st = udx.createStream(serverId);
      st.connect(sock, clientId, from.port, from.host);
      st.on('error', () => {});
      streams.set(serverId, st);
      onStream(st);
    }
    sock.trySend(Buffer.from(String(serverId)), from.port, from.host);
  });
  return streams;
}
