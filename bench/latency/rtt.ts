// 64-byte request/response latency on loopback, side by side in one run: raw node:dgram, udt (both engines), udx-native, libudt.
// Run: node --import tsx bench/latency/rtt.ts [--trips 20000] [--warmup 1000] [--runs 3] [--size 64] [--only raw,udt-native,...] [--dump DIR] [--node-args="FLAGS"]
// Each run starts the echo server and the timing client in separate processes; rounds interleave the contenders.

import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, createServer, type UdtSocket } from '../../src/ts/api/index.js';
import { buildUdtPeer, libudtStatus, startUdtListener, killAllUdtPeers, type UdtPeer } from '../../test/support/libudt.js';
import { ask, exitOnRequest, forkRole, stopChild } from '../common/child.js';
import { loadAverage, machineFacts } from '../common/machine.js';
import { acceptUdxStreams, loadUdx } from '../common/udx.js';
import { median, percentile } from '../micro/engine-common.js';

const SCRIPT = fileURLToPath(import.meta.url);
const HERE = dirname(SCRIPT);
const ROOT = join(HERE, '..', '..');
const UDTPING_SOURCE = join(HERE, 'udtping.cc');
const UDTPING_BINARY = join(ROOT, 'bench', 'out', 'udtping');
const HOST = '127.0.0.1';
const SLOW_US = 5000;
/** Extra node flags for the node children (--node-args="--cpu-prof --cpu-prof-dir=DIR", "--trace-gc"...). */
let childNodeArgs: string[] = [];

/** What a client measured in one run. */
interface RunResult {
  rtts: number[];
  /** The client's CPU time (user + system) over the timed round trips, µs. */
  cpuUs: number;
  note?: string;
  /** Lets a client that waits for it disconnect (called once the server's CPU time has been read). */
  release?: () => void;
}

interface Contender {
  key: string;
  label: string;
  /** Why it cannot run here, or undefined. */
  unavailable(): Promise<string | undefined>;
  /** Starts the echo server; returns its port and how to stop it. */
  server(): Promise<EchoServer>;
  /** Runs the timing client against `port` in its own process. */
  client(port: number, o: ClientOpts): Promise<RunResult>;
}

interface EchoServer {
  port: number;
  pid: number;
  stop: () => Promise<void>;
  /** Our servers' endpoint figures (datagrams, send and receive calls). */
  stats?: () => Promise<Record<string, unknown>>;
}

interface ClientOpts {
  trips: number;
  warmup: number;
  size: number;
  maxSeconds: number;
}

// ---------- roles run inside child processes ----------

function sendToParent(msg: object): void {
  process.send!(msg);
}

const cpuNowUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** A request/response loop: `send` issues one request, `onReply` must be called when its whole answer is in. */
function pingLoop(o: ClientOpts, send: () => void): { onReply: () => void; done: Promise<RunResult> } {
  const rtts: number[] = [];
  const deadline = performance.now() + o.maxSeconds * 1000;
  let n = 0;
  let t0 = 0;
  let cpu0 = o.warmup === 0 ? cpuNowUs() : 0;
  let finish: (r: RunResult) => void = () => {};
  const done = new Promise<RunResult>((r) => (finish = r));
  const next = () => {
    t0 = performance.now();
    send();
  };
  const onReply = () => {
    const rtt = (performance.now() - t0) * 1000;
    if (n++ >= o.warmup) rtts.push(rtt);
    if (n === o.warmup) cpu0 = cpuNowUs();
    if (rtts.length >= o.trips || performance.now() > deadline) finish({ rtts, cpuUs: cpuNowUs() - cpu0 });
    else next();
  };
  queueMicrotask(next);
  return { onReply, done };
}

/** The ping loop over a byte stream: a reply is complete once `size` more bytes came back. */
function streamPingLoop(o: ClientOpts, stream: { write(d: Uint8Array): boolean; on(ev: 'data', f: (d: Buffer) => void): unknown }): Promise<RunResult> {
  const payload = Buffer.alloc(o.size, 7);
  let got = 0;
  const loop = pingLoop(o, () => stream.write(payload));
  stream.on('data', (d: Buffer) => {
    got += d.length;
    while (got >= o.size) {
      got -= o.size;
      loop.onReply();
    }
  });
  return loop.done;
}

async function rawServer(): Promise<void> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, r) => s.send(msg, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  exitOnRequest(() => new Promise<void>((r) => s.close(() => r())));
  sendToParent({ port: s.address().port });
}

async function rawClient(port: number, o: ClientOpts): Promise<RunResult> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const payload = Buffer.alloc(o.size, 7);
  const loop = pingLoop(o, () => s.send(payload, port, HOST));
  s.on('message', () => loop.onReply());
  const r = await loop.done;
  await new Promise<void>((done) => s.close(() => done()));
  return r;
}

async function udtServer(engine: 'dgram' | 'native'): Promise<void> {
  const server = createServer({ engine }, (sock: UdtSocket) => {
    sock.on('data', (d: Buffer) => sock.write(d));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  exitOnRequest(() => {
    server.closeAllConnections();
    server.close();
  });
  process.on('message', (m: { op?: string }) => {
    if (m.op === 'stats') sendToParent({ stats: server.getStats() });
  });
  sendToParent({ port: server.address()!.port });
}

/** Our client; `engine` picks the engine of the client side (the server may be another implementation). */
async function udtClient(engine: 'dgram' | 'native', port: number, o: ClientOpts): Promise<RunResult> {
  const sock = connect({ host: HOST, port, engine });
  sock.on('error', (err) => {
    console.error(`udt client: ${err.message}`);
    process.exit(1);
  });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const r = await streamPingLoop(o, sock);
  const st = sock.getStats({ clear: false });
  const note =
    `client sent ${st.pktSentTotal} pkts, ${st.pktSentACKTotal} ACKs, ${st.pktSentLightACKTotal} light ACKs; ` +
    `received ${st.pktRecvTotal} pkts, ${st.pktRecvACKTotal} ACKs; ${st.pktRetransTotal} retransmitted, ${st.expTimeoutsTotal} EXP time-outs`;
  sock.destroy();
  return { ...r, note };
}

async function udxServer(): Promise<void> {
  const { udx, reason } = loadUdx();
  if (!udx) throw new Error(reason);
  const sock = udx.createSocket();
  sock.bind(0, HOST);
  const streams = acceptUdxStreams(udx, sock, (st) => st.on('data', (d: Buffer) => st.write(d)));
  exitOnRequest(async () => {
    for (const st of streams.values()) st.destroy();
    await sock.close();
  });
  sendToParent({ port: sock.address().port });
}

async function udxClient(port: number, o: ClientOpts): Promise<RunResult> {
  const { udx, reason } = loadUdx();
  if (!udx) throw new Error(reason);
  const sock = udx.createSocket();
  sock.bind(0, HOST);
  const st = udx.createStream(1);
  st.connect(sock, 2, port, HOST);
  st.on('error', (err: Error) => {
    console.error(`udx client: ${err.message}`);
    process.exit(1);
  });
  await new Promise<void>((resolve) => {
    sock.once('message', () => resolve());
    sock.trySend(Buffer.from('1 2'), port, HOST);
  });
  const r = await streamPingLoop(o, st);
  st.destroy();
  return r;
}

async function runChild(role: string, kind: string, port: number, o: ClientOpts): Promise<void> {
  if (role === 'server') {
    if (kind === 'raw') return rawServer();
    if (kind === 'udt-dgram' || kind === 'udt-native') return udtServer(kind === 'udt-dgram' ? 'dgram' : 'native');
    if (kind === 'udx') return udxServer();
    throw new Error(`no server role for ${kind}`);
  }
  let r: RunResult;
  if (kind === 'raw') r = await rawClient(port, o);
  else if (kind === 'udt-dgram' || kind === 'udt-native' || kind === 'udt-native-libudt') r = await udtClient(kind === 'udt-dgram' ? 'dgram' : 'native', port, o);
  else if (kind === 'udx') r = await udxClient(port, o);
  else throw new Error(`no client role for ${kind}`);
  process.send!(r, () => process.exit(0));
}

// ---------- the parent: contenders, rounds, table ----------

function nodeServer(kind: string): Contender['server'] {
  return async () => {
    const role = forkRole(SCRIPT, ['--role', 'server', '--kind', kind], { timeoutMs: 20_000, execArgv: childNodeArgs });
    const { port } = (await role.first) as { port: number };
    const stats = kind.startsWith('udt') ? async () => (await ask<{ stats: Record<string, unknown> }>(role.child, { op: 'stats' }, 5000)).stats : undefined;
    return { port, pid: role.child.pid!, stop: () => stopChild(role.child), stats };
  };
}

function nodeClient(kind: string): (port: number, o: ClientOpts) => Promise<RunResult> {
  return async (port, o) => {
    const args = ['--role', 'client', '--kind', kind, '--port', String(port)];
    args.push('--trips', String(o.trips), '--warmup', String(o.warmup), '--size', String(o.size), '--max-seconds', String(o.maxSeconds));
    const role = forkRole(SCRIPT, args, { timeoutMs: (o.maxSeconds + 30) * 1000, execArgv: childNodeArgs });
    try {
      return (await role.first) as RunResult;
    } finally {
      await stopChild(role.child);
    }
  };
}

async function libudtServer(): Promise<EchoServer> {
  const { peer, port } = await startUdtListener(['--host', HOST, '--port', '0', '--echo', '--count', '1', '--max-time', '600'], { timeoutMs: 610_000 });
  return { port, pid: peer.pid!, stop: () => stopPeer(peer) };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** A live process's CPU time (user + system) from /proc, µs (clock-tick resolution). */
function procCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

async function stopPeer(peer: UdtPeer): Promise<void> {
  peer.kill('SIGKILL');
  await peer.exited;
}

function libudtMissing(): string | undefined {
  const s = libudtStatus();
  return s.available ? undefined : s.reason;
}

async function buildUdtping(): Promise<string | undefined> {
  const missing = libudtMissing();
  if (missing) return missing;
  if (existsSync(UDTPING_BINARY) && statSync(UDTPING_BINARY).mtimeMs >= statSync(UDTPING_SOURCE).mtimeMs) return undefined;
  mkdirSync(dirname(UDTPING_BINARY), { recursive: true });
  const r = spawnSync(process.env.CXX ?? 'g++', ['-O2', '-std=c++17', '-o', UDTPING_BINARY, UDTPING_SOURCE, '-ludt', '-lpthread'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `building udtping failed: ${r.stderr.slice(0, 300)}`;
}

function udtpingClient(port: number, o: ClientOpts): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(UDTPING_BINARY, [HOST, String(port), String(o.trips), String(o.warmup), String(o.size), String(o.maxSeconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), (o.maxSeconds + 30) * 1000);
    const release = () => child.stdin.end();
    const settle = () => {
      try {
        const v = JSON.parse(out) as { rttsUs?: number[]; cpuUs?: number; error?: string };
        if (v.rttsUs) resolve({ rtts: v.rttsUs, cpuUs: v.cpuUs ?? NaN, release });
        else reject(new Error(`udtping: ${v.error ?? 'no result'}`));
      } catch {
        reject(new Error('udtping printed no result'));
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.endsWith('\n')) settle();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!out.endsWith('\n')) reject(new Error(`udtping exited (code ${code}) without a result`));
    });
  });
}

const CONTENDERS: Contender[] = [
  { key: 'raw', label: 'node:dgram ping-pong (no reliability)', unavailable: async () => undefined, server: nodeServer('raw'), client: nodeClient('raw') },
  { key: 'udt-dgram', label: 'udt, dgram engine', unavailable: async () => undefined, server: nodeServer('udt-dgram'), client: nodeClient('udt-dgram') },
  {
    key: 'udt-native',
    label: 'udt, native engine',
    unavailable: async () => {
      const { loadNativeBinding } = await import('../../src/ts/engine/native-binding.js');
      const b = loadNativeBinding();
      return b.binding ? undefined : `native engine unavailable: ${b.reason}`;
    },
    server: nodeServer('udt-native'),
    client: nodeClient('udt-native'),
  },
  { key: 'udx', label: 'udx-native', unavailable: async () => loadUdx().reason, server: nodeServer('udx'), client: nodeClient('udx') },
  { key: 'libudt', label: 'libudt 4.11 (udtping → udtpeer --echo)', unavailable: buildUdtping, server: libudtServer, client: udtpingClient },
  {
    key: 'udt-native-libudt',
    label: 'udt native client → libudt 4.11 echo',
    unavailable: async () => libudtMissing() ?? (await buildUdtPeer().then(() => undefined, (e: Error) => e.message.split('\n')[0])),
    server: libudtServer,
    client: nodeClient('udt-native-libudt'),
  },
];

interface Summary {
  /** Client + server CPU per round trip, µs. */
  cpu: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  slow: number;
  count: number;
}

function summarise(rtts: number[], cpu: number): Summary {
  const s = [...rtts].sort((a, b) => a - b);
  return { cpu, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1], slow: s.filter((x) => x > SLOW_US).length, count: s.length };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trips: { type: 'string', default: '20000' },
      warmup: { type: 'string', default: '1000' },
      runs: { type: 'string', default: '3' },
      size: { type: 'string', default: '64' },
      'max-seconds': { type: 'string', default: '60' },
      only: { type: 'string' },
      dump: { type: 'string' },
      'node-args': { type: 'string' },
      role: { type: 'string' },
      kind: { type: 'string' },
      port: { type: 'string' },
    },
  });
  const o: ClientOpts = { trips: Number(values.trips), warmup: Number(values.warmup), size: Number(values.size), maxSeconds: Number(values['max-seconds']) };
  if (values.role) return runChild(values.role, values.kind!, Number(values.port), o);

  const runs = Number(values.runs);
  childNodeArgs = values['node-args']?.split(' ').filter(Boolean) ?? [];
  const wanted = values.only ? values.only.split(',') : CONTENDERS.map((c) => c.key);
  const active: Contender[] = [];
  const skipped: string[] = [];
  for (const c of CONTENDERS.filter((c) => wanted.includes(c.key))) {
    const why = await c.unavailable();
    if (why) skipped.push(`${c.label}: ${why}`);
    else active.push(c);
  }
  const loadBefore = loadAverage();
  const perContender = new Map<string, Summary[]>(active.map((c) => [c.key, []]));
  const notes = new Map<string, string>();
  for (let run = 0; run < runs; run++) {
    for (const c of active) {
      const srv = await c.server();
      try {
        const serverCpu0 = procCpuUs(srv.pid);
        const r = await c.client(srv.port, o);
        const serverCpu = (procCpuUs(srv.pid) - serverCpu0) / (o.warmup + r.rtts.length);
        r.release?.();
        const s = summarise(r.rtts, r.cpuUs / r.rtts.length + serverCpu);
        perContender.get(c.key)!.push(s);
        if (r.note) notes.set(c.key, r.note);
        if (srv.stats) {
          const st = await srv.stats();
          const f = (k: string) => String(st[k] ?? '-');
          notes.set(`${c.key} server`, `${f('datagramsSent')} datagrams in ${f('sendCalls')} send calls (${f('inlineSent')} sent inline from JS), ${f('datagramsReceived')} datagrams in ${f('recvCalls')} receive calls`);
        }
        if (values.dump) writeFileSync(join(values.dump, `rtt-${c.key}-${run + 1}.json`), JSON.stringify(r.rtts.map((x) => Math.round(x))));
        console.error(`run ${run + 1}/${runs} ${c.key}: n=${s.count} p50 ${s.p50.toFixed(0)} p99 ${s.p99.toFixed(0)} max ${s.max.toFixed(0)} µs, ${s.slow} > 5 ms, CPU ${s.cpu.toFixed(1)} µs/trip`);
      } finally {
        await srv.stop();
      }
    }
  }

  const med = (k: string, f: (s: Summary) => number) => median(perContender.get(k)!.map(f));
  const baseP99 = perContender.has('raw') ? med('raw', (s) => s.p99) : NaN;
  console.log(`<!-- node --import tsx bench/latency/rtt.ts --trips ${o.trips} --warmup ${o.warmup} --runs ${runs} --size ${o.size}${values.only ? ` --only ${values.only}` : ''} -->`);
  console.log(`<!-- ${machineFacts()}; load average before ${loadBefore}, after ${loadAverage()} -->`);
  console.log('');
  console.log(`${o.size}-byte request/response on loopback, ${o.trips} timed round trips per run after ${o.warmup} warm-up, client and server in separate processes; median of ${runs} runs (rounds interleaved).`);
  console.log('');
  console.log('| contender | p50 µs | p90 µs | p99 µs | max µs | p99 ÷ node:dgram p99 | round trips > 5 ms | CPU µs per round trip (both ends) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of active) {
    const p99 = med(c.key, (s) => s.p99);
    const slow = med(c.key, (s) => s.slow);
    const count = med(c.key, (s) => s.count);
    const ratio = Number.isFinite(baseP99) ? `${(p99 / baseP99).toFixed(2)}×` : 'n/a';
    console.log(
      `| ${c.label} | ${med(c.key, (s) => s.p50).toFixed(0)} | ${med(c.key, (s) => s.p90).toFixed(0)} | ${p99.toFixed(0)} | ${med(c.key, (s) => s.max).toFixed(0)} | ${ratio} | ${slow} (${((slow / count) * 100).toFixed(2)}%) | ${med(c.key, (s) => s.cpu).toFixed(1)} |`,
    );
  }
  for (const [k, n] of notes) console.log(`\n<!-- ${k}: ${n} -->`);
  for (const s of skipped) console.log(`\nskipped: ${s}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!process.argv.includes('--role')) void killAllUdtPeers();
  });
