// Public option types and their validation, plus host resolution and engine/endpoint acquisition.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { resolveConfig, type ConnectionOptions, type CoreConfig } from '../core/config.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { acquireEndpoint } from '../endpoint/registry.js';
import { createEngine } from '../engine/load.js';

export type EngineChoice = 'auto' | 'native' | 'dgram';

/** Options shared by sockets and servers. Protocol options are documented on ConnectionOptions. */
export interface SocketOptions extends ConnectionOptions {
  /** Which UDP engine a new endpoint uses: the C++ addon ('native'), node:dgram ('dgram') or 'auto' (default). */
  engine?: EngineChoice;
  /** Kernel SO_SNDBUF / SO_RCVBUF requested for a new endpoint, bytes. Default 4 MiB each (clamped by the kernel). */
  udpSendBufferSize?: number;
  udpReceiveBufferSize?: number;
  /** For IPv6 endpoints: refuse IPv4-mapped peers. */
  ipv6Only?: boolean;
  /** Stream mode: bytes the readable side buffers before it stops pulling from the connection. Default 1 MiB. */
  readableHighWaterMark?: number;
  /** Stream mode: bytes the writable side buffers beyond the send buffer before write() returns false. Default 64 KiB. */
  writableHighWaterMark?: number;
}

export interface ConnectOptions extends SocketOptions {
  /** Peer host name or address. Default 'localhost'. */
  host?: string;
  port: number;
  /** Local address and port to bind; a local port already used by this process's UDT endpoint is shared. */
  localAddress?: string;
  localPort?: number;
  /** Connect by rendezvous (both sides call connect with each other's address; localPort is required). */
  rendezvous?: boolean;
  /** Address family to resolve `host` to. */
  family?: 4 | 6;
  /** Abort the connection attempt (and the connection). */
  signal?: AbortSignal;
  /** Handshake time-out in ms (same as connectTimeout). */
  timeout?: number;
}

export interface MessageOptions {
  /** Drop the message if not delivered within this many ms (-1 = never). Default -1. */
  ttl?: number;
  /** Deliver in order relative to other in-order messages. Default true. */
  inOrder?: boolean;
}

export const DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;

export function checkPort(name: string, port: unknown, allowZero: boolean): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new InvalidArgumentError(`${name} must be an integer port in [${allowZero ? 0 : 1}, 65535], got ${String(port)}`);
  }
  return port;
}

function checkEngine(engine: unknown): EngineChoice {
  if (engine === undefined) return 'auto';
  if (engine !== 'auto' && engine !== 'native' && engine !== 'dgram') {
    throw new InvalidArgumentError(`engine must be 'auto', 'native' or 'dgram', got ${String(engine)}`);
  }
  return engine;
}

function checkBytes(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1024) throw new InvalidArgumentError(`${name} must be an integer >= 1024, got ${String(v)}`);
  return v;
}

/** Validates everything up front so bad options throw synchronously with a typed error. */
export function validateSocketOptions(options: SocketOptions, rendezvous = false): { config: () => CoreConfig; engine: EngineChoice } {
  const first = resolveConfig(options, rendezvous);
  let used = false;
  checkEngine(options.engine);
  checkBytes('udpSendBufferSize', options.udpSendBufferSize);
  checkBytes('udpReceiveBufferSize', options.udpReceiveBufferSize);
  checkBytes('readableHighWaterMark', options.readableHighWaterMark);
  checkBytes('writableHighWaterMark', options.writableHighWaterMark);
  return {
    config: () => {
      if (!used) {
        used = true;
        return first;
      }
      return resolveConfig({ ...options, seed: undefined }, rendezvous);
    },
    engine: checkEngine(options.engine),
  };
}

/** Resolves a host to one numeric address (numeric input passes through). */
export async function resolveHost(host: string, family?: 4 | 6): Promise<{ address: string; family: 4 | 6 }> {
  const kind = isIP(host);
  if (kind === 4 || kind === 6) return { address: host, family: kind };
  const r = await lookup(host, { family: family ?? 0 });
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
}

export function endpointFor(
  options: SocketOptions,
  family: 4 | 6,
  local: { address?: string; port?: number },
  mss: number,
): Promise<Endpoint> {
  return acquireEndpoint({
    type: family === 6 ? 'udp6' : 'udp4',
    address: local.address,
    port: local.port,
    mss,
    sndBuf: options.udpSendBufferSize ?? DEFAULT_UDP_BUFFER,
    rcvBuf: options.udpReceiveBufferSize ?? DEFAULT_UDP_BUFFER,
    ipv6Only: options.ipv6Only,
    makeEngine: () => createEngine(options.engine ?? 'auto'),
  });
}
