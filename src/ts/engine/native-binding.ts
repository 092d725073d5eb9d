// Loads the udt_native addon through node-gyp-build (prebuilds/ or build/) and describes its JS surface.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowUs } from '../endpoint/clock.js';

export interface NativeOpenOptions {
  family: 4 | 6;
  address?: string;
  port?: number;
  ipv6Only?: boolean;
  sndBuf?: number;
  rcvBuf?: number;
  maxDatagram: number;
  gro?: boolean;
  gsoLoopback?: boolean;
  sendPath?: 'gso' | 'sendmmsg' | 'sendmsg';
  spinUs?: number;
  burstUs?: number;
  burstCapUs?: number;
  maxShiftUs?: number;
  drainMs?: number;
  inlineMax?: number;
  /** Send ring size in blocks of 64 datagrams (power of two; default sized from maxDatagram, at most 32). */
  txBlocks?: number;
  onReceive(count: number, now: number): void;
  onWritable(): void;
  onError(err: Error): void;
}

export interface NativeInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  sndBufGranted: number;
  rcvBufGranted: number;
  gso: boolean;
  gro: boolean;
  blocks: number;
  blockCap: number;
  stride: number;
  rxEntries: number;
  metaTxLen: number;
  metaTxPeer: number;
  metaTxSendAt: number;
  metaRxOff: number;
  metaRxLen: number;
  metaRxPeer: number;
  metaRxTime: number;
  /** The kernel timestamps each received datagram (RxBatch.times holds kernel arrival times). */
  rxTimestamps: boolean;
}

export interface NativeStats {
  sendPath: 'gso' | 'sendmmsg' | 'sendmsg';
  datagramsSent: number;
  bytesSent: number;
  sendCalls: number;
  sendErrors: number;
  sendWouldBlock: number;
  gsoCalls: number;
  inlineSent: number;
  pacedCount: number;
  pacedLateSumUs: number;
  pacedLateMaxUs: number;
  /** Largest schedule shift after a stall (µs). */
  paceShiftMaxUs: number;
  droppedOnClose: number;
  datagramsReceived: number;
  bytesReceived: number;
  recvCalls: number;
  recvErrors: number;
  recvTruncated: number;
  groSegmented: number;
  lastSendError: string | null;
  peers: number;
}

export interface NativeUdpEngine {
  info(): NativeInfo;
  buffers(): { tx: ArrayBuffer; rx: ArrayBuffer; meta: ArrayBuffer };
  /** Publishes the reserved block with `count` datagrams; returns the new committed-block counter. */
  commit(count: number): number;
  peer(address: string, port: number): number;
  peerAddress(handle: number): [string, number, 'IPv4' | 'IPv6'];
  releasePeer(handle: number): boolean;
  stats(): NativeStats;
  pauseReceive(): void;
  resumeReceive(): void;
  setRef(on: boolean): void;
  /** Stops receiving, lets the pacing thread drain (or drop) the queue, closes; `done` runs when all is released. */
  close(done: () => void, drop?: boolean): void;
}

export interface NativeBinding {
  UdpEngine: new (options: NativeOpenOptions) => NativeUdpEngine;
  nowUs(): number;
  platformBatching: boolean;
}

export type BindingLoad = { binding: NativeBinding; reason: null } | { binding: null; reason: string };

/** The directory holding this package's package.json (works from src/ts/engine and from dist/engine). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && existsSync(join(dir, 'binding.gyp'))) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'udt') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Tries to load the addon from `root` (default: `UDT_NATIVE_ROOT` or the package root); never throws. */
export function loadNativeBinding(root: string | null = process.env.UDT_NATIVE_ROOT || packageRoot()): BindingLoad {
  if (!root) return { binding: null, reason: 'cannot find the udt package root (package.json with binding.gyp)' };
  let binding: NativeBinding;
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    binding = nodeGypBuild(root) as NativeBinding;
  } catch (e) {
    return { binding: null, reason: `udt_native addon did not load from ${root}: ${(e as Error).message.split('\n')[0]}` };
  }
  if (typeof binding?.UdpEngine !== 'function' || typeof binding.nowUs !== 'function') {
    return { binding: null, reason: `udt_native addon at ${root} has an unexpected shape` };
  }
  const skew = Math.abs(binding.nowUs() - nowUs());
  if (skew > 5000) {
    return { binding: null, reason: `udt_native clock differs from nowUs() by ${Math.round(skew)} µs; sendAt would be wrong` };
  }
  return { binding, reason: null };
}
