// Shared pieces of the engine micro-benchmarks: which engine to run, opening it, child processes, statistics.

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DgramEngine } from '../../src/ts/engine/dgram-engine.js';
import type { BoundInfo, Engine, EngineHandlers } from '../../src/ts/engine/engine.js';
import { loadNativeBinding } from '../../src/ts/engine/native-binding.js';
import { NativeEngine } from '../../src/ts/engine/native-engine.js';

/**
 * 'raw' is plain node:dgram without any engine; 'native' is the native engine with its defaults (no GSO towards
 * loopback, no GRO); 'native-gso' opts into GSO on loopback and GRO; native-sendmmsg/-sendmsg cap the send path.
 */
export type BenchKind = 'raw' | 'dgram' | 'native' | 'native-gso' | 'native-sendmmsg' | 'native-sendmsg';

const native = loadNativeBinding();

export function availableKinds(wanted: BenchKind[]): BenchKind[] {
  if (!native.binding) console.log(`native engine unavailable: ${native.reason}`);
  return wanted.filter((k) => !k.startsWith('native') || native.binding);
}

export function makeEngine(kind: Exclude<BenchKind, 'raw'>): Engine {
  if (kind === 'dgram') return new DgramEngine();
  if (kind === 'native-gso') return new NativeEngine(native.binding!, { gsoLoopback: true, gro: true });
  const sendPath = kind === 'native-sendmmsg' ? 'sendmmsg' : kind === 'native-sendmsg' ? 'sendmsg' : undefined;
  return new NativeEngine(native.binding!, { sendPath });
}

export async function openEngine(kind: Exclude<BenchKind, 'raw'>, h: EngineHandlers): Promise<{ engine: Engine; bound: BoundInfo }> {
  const engine = makeEngine(kind);
  const bound = await engine.open({ type: 'udp4', address: '127.0.0.1', maxDatagram: 1472, sndBuf: 8 << 20, rcvBuf: 8 << 20 }, h);
  return { engine, bound };
}

export interface PeerReady {
  port: number;
}

/** Starts engine-peer.ts in a child process (mode 'sink' or 'echo') and waits for its port. */
export async function startPeer(mode: 'sink' | 'echo', kind: BenchKind): Promise<{ child: ChildProcess; port: number }> {
  const file = fileURLToPath(new URL('./engine-peer.ts', import.meta.url));
  const child = fork(file, [mode, kind], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('peer did not start')), 20_000);
    child.once('message', (m) => {
      clearTimeout(t);
      resolve((m as PeerReady).port);
    });
    child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
  });
  return { child, port };
}

/** Sends a request to the child and waits for its one reply. */
export function ask<T>(child: ChildProcess, msg: unknown): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg as never);
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
