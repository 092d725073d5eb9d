// Test helper for the real libudt 4.11: detect it, build test/interop/peers/udtpeer.cc once, spawn and drive peers.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const UDTPEER_SOURCE = join(here, '..', 'interop', 'peers', 'udtpeer.cc');
export const UDTPEER_BINARY = join(here, '..', 'interop', 'bin', 'udtpeer');

const HEADER = '/usr/include/udt/udt.h';
const LIBRARY_DIRS = ['/usr/lib', '/usr/local/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
const CXX = process.env.CXX ?? 'g++';
const BUILD_LOCK = `${UDTPEER_BINARY}.lock`;
const STALE_LOCK_MS = 120_000;
const STDERR_TAIL_CHARS = 4000;

export interface LibudtStatus {
  available: boolean;
  reason?: string;
}

let cachedStatus: LibudtStatus | undefined;

/** Whether libudt's header, library and a C++ compiler are present (cached). */
export function libudtStatus(): LibudtStatus {
  cachedStatus ??= probeLibudt();
  return cachedStatus;
}

function probeLibudt(): LibudtStatus {
  if (process.env.UDT_SKIP_LIBUDT) return { available: false, reason: 'UDT_SKIP_LIBUDT is set' };
  if (process.platform !== 'linux') return { available: false, reason: `libudt interop runs on Linux only (this is ${process.platform})` };
  if (!existsSync(HEADER)) return { available: false, reason: `${HEADER} not found: install Debian's libudt-dev` };
  if (!LIBRARY_DIRS.some((d) => existsSync(join(d, 'libudt.so')))) {
    return { available: false, reason: `libudt.so not found in ${LIBRARY_DIRS.join(', ')}: install libudt-dev` };
  }
  const cxx = spawnSync(CXX, ['--version'], { encoding: 'utf8' });
  if (cxx.error || cxx.status !== 0) return { available: false, reason: `${CXX} not usable: install g++` };
  return { available: true };
}

/** Prints why the libudt tests are skipped (vitest shows it) and returns true when they should be. */
export function skipWithoutLibudt(suite: string): boolean {
  const status = libudtStatus();
  if (!status.available) console.warn(`[${suite}] skipped: ${status.reason}`);
  return !status.available;
}

// ---------- build ----------

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function binaryIsFresh(): Promise<boolean> {
  const bin = await mtimeMs(UDTPEER_BINARY);
  const src = await mtimeMs(UDTPEER_SOURCE);
  return bin !== undefined && src !== undefined && bin >= src;
}

function compile(output: string): Promise<void> {
  const args = ['-O2', '-std=c++17', '-Wall', '-Wextra', '-o', output, UDTPEER_SOURCE, '-ludt', '-lpthread'];
  return new Promise((resolve, reject) => {
    const child = spawn(CXX, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`building udtpeer failed (${CXX} ${args.join(' ')}), exit ${code}:\n${out.slice(-STDERR_TAIL_CHARS)}`));
    });
  });
}

/** Takes the cross-process build lock (O_EXCL file); breaks a lock older than STALE_LOCK_MS. */
async function acquireBuildLock(deadline: number): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const handle = await open(BUILD_LOCK, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(BUILD_LOCK, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const age = Date.now() - ((await mtimeMs(BUILD_LOCK)) ?? Date.now());
    if (age > STALE_LOCK_MS) await rm(BUILD_LOCK, { force: true });
    if (Date.now() > deadline) throw new Error(`timed out waiting for the udtpeer build lock ${BUILD_LOCK}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let buildOnce: Promise<string> | undefined;

/**
 * Compiles udtpeer into test/interop/bin (only when the binary is missing or older than the source). Safe across
 * vitest workers: a lock file serialises builds and the binary appears by atomic rename.
 */
export function buildUdtPeer(): Promise<string> {
  buildOnce ??= buildLocked().catch((err: unknown) => {
    buildOnce = undefined;
    throw err;
  });
  return buildOnce;
}

async function buildLocked(): Promise<string> {
  const status = libudtStatus();
  if (!status.available) throw new Error(`cannot build udtpeer: ${status.reason}`);
  if (await binaryIsFresh()) return UDTPEER_BINARY;
  await mkdir(dirname(UDTPEER_BINARY), { recursive: true });
  const release = await acquireBuildLock(Date.now() + STALE_LOCK_MS);
  try {
    if (await binaryIsFresh()) return UDTPEER_BINARY;
    const temp = `${UDTPEER_BINARY}.tmp-${process.pid}`;
    await compile(temp);
    await rename(temp, UDTPEER_BINARY);
    return UDTPEER_BINARY;
  } finally {
    await release();
  }
}

// ---------- peers ----------

/** One JSON line printed by udtpeer (`event` is listening, bound, connected, perf, done, broken or error). */
export interface PeerEvent {
  event: string;
  [key: string]: unknown;
}

export interface SpawnUdtPeerOptions {
  /** Kill the peer (SIGKILL) if it still runs after this long; default 60 s. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Waiter = { match: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void; reject: (err: Error) => void };

const livePeers = new Set<UdtPeer>();

/** A running udtpeer: its events, its exit, and a kill that touches only this PID. */
export class UdtPeer {
  readonly events: PeerEvent[] = [];
  readonly exited: Promise<PeerExit>;
  private exitInfo: PeerExit | undefined;
  private stderr = '';
  private waiters = new Set<Waiter>();
  private wakers = new Set<() => void>();
  private readonly killTimer: NodeJS.Timeout;

  constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly args: readonly string[],
    timeoutMs: number,
  ) {
    livePeers.add(this);
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-STDERR_TAIL_CHARS);
    });
    this.killTimer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    this.killTimer.unref();
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        clearTimeout(this.killTimer);
        livePeers.delete(this);
        this.failWaiters(`udtpeer exited (code ${code}, signal ${signal})`);
        this.wakeIterators();
        resolve(this.exitInfo);
      });
      child.on('error', (err) => this.failWaiters(`udtpeer could not run: ${err.message}`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last few kB of the peer's stderr. */
  stderrTail(): string {
    return this.stderr;
  }

  /** Resolves with the first event (already seen or future) named `name` that passes `match`. */
  waitFor(name: string, timeoutMs = 30_000, match: (e: PeerEvent) => boolean = () => true): Promise<PeerEvent> {
    const wanted = (e: PeerEvent) => e.event === name && match(e);
    const seen = this.events.find(wanted);
    if (seen) return Promise.resolve(seen);
    if (this.exitInfo) return Promise.reject(this.failure(`udtpeer exited before "${name}"`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match: (e) => wanted(e) || (e.event === 'error' && name !== 'error'),
        resolve: (e) => {
          clearTimeout(timer);
          if (e.event === name) resolve(e);
          else reject(this.failure(`udtpeer reported an error while waiting for "${name}"`));
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(this.failure(`no "${name}" event from udtpeer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Waits for the process to end; rejects (with the log) if it outlives `timeoutMs`. */
  async waitExit(timeoutMs = 30_000): Promise<PeerExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure(`udtpeer still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes one line to the peer's stdin (used by `--port -`). */
  writeLine(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo === undefined && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** Every event, in order, until the process exits. */
  async *[Symbol.asyncIterator](): AsyncGenerator<PeerEvent> {
    for (let i = 0; ; i++) {
      while (i >= this.events.length) {
        if (this.exitInfo) return;
        await new Promise<void>((r) => this.wakers.add(r));
      }
      yield this.events[i];
    }
  }

  /** An Error carrying the command, the events so far and the stderr tail. */
  failure(message: string): Error {
    const log = this.events.map((e) => JSON.stringify(e).slice(0, 400)).join('\n  ');
    return new Error(
      `${message}\n command: udtpeer ${this.args.join(' ')}\n events:\n  ${log || '(none)'}\n stderr tail:\n${this.stderr || '(empty)'}`,
    );
  }

  private onLine(line: string): void {
    let e: PeerEvent;
    try {
      e = JSON.parse(line) as PeerEvent;
    } catch {
      this.stderr = (this.stderr + `[stdout, not JSON] ${line}\n`).slice(-STDERR_TAIL_CHARS);
      return;
    }
    this.events.push(e);
    for (const w of this.waiters) {
      if (!w.match(e)) continue;
      this.waiters.delete(w);
      w.resolve(e);
    }
    this.wakeIterators();
  }

  private wakeIterators(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) wake();
  }

  private failWaiters(message: string): void {
    for (const w of this.waiters) w.reject(this.failure(message));
    this.waiters.clear();
  }
}

/** Starts udtpeer (built on demand) with `args`; see `udtpeer --help`. */
export async function spawnUdtPeer(args: readonly string[], opts: SpawnUdtPeerOptions = {}): Promise<UdtPeer> {
  const binary = await buildUdtPeer();
  const child = spawn(binary, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  return new UdtPeer(child, args, opts.timeoutMs ?? 60_000);
}

/** Kills every peer this process started and still runs (by PID) and waits for them; for afterEach/afterAll. */
export async function killAllUdtPeers(): Promise<void> {
  const peers = [...livePeers];
  for (const p of peers) p.kill('SIGKILL');
  await Promise.all(peers.map((p) => p.exited));
}

/** Starts a listening peer and returns it with its bound port. */
export async function startUdtListener(args: readonly string[], opts?: SpawnUdtPeerOptions): Promise<{ peer: UdtPeer; port: number }> {
  const peer = await spawnUdtPeer(['listen', ...args], opts);
  const listening = await peer.waitFor('listening', 10_000);
  return { peer, port: Number(listening.port) };
}

/** Asserts-by-throwing that a peer ended cleanly (exit 0) and returns its `done` events. */
export async function expectCleanExit(peer: UdtPeer, timeoutMs = 60_000): Promise<PeerEvent[]> {
  const exit = await peer.waitExit(timeoutMs);
  if (exit.code !== 0) throw peer.failure(`udtpeer ended with code ${exit.code}, signal ${exit.signal}`);
  return peer.events.filter((e) => e.event === 'done');
}

process.once('exit', () => {
  for (const p of livePeers) p.kill('SIGKILL');
});
