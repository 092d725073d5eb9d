// Loopback goodput, CPU seconds per GB and peak RSS side by side: udt-perf (dgram, native), iperf3 UDP and TCP, libudt→libudt.
// Run: node --import tsx bench/throughput/loopback.ts [--size-mb 2048] [--runs 3] [--mss 1500] [--only udt-dgram,udt-native,iperf3-udp,iperf3-tcp,libudt]
// Every process runs under GNU time (/usr/bin/time) for its CPU time and peak RSS; runs interleave the contenders.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildUdtPeer, libudtStatus } from '../../test/support/libudt.js';
import { buildOnce, repoRoot } from '../../test/support/build-once.js';
import { loadAverage, machineFacts } from '../common/machine.js';
import { median } from '../micro/engine-common.js';

const HOST = '127.0.0.1';
const GNU_TIME = '/usr/bin/time';
const UDT_PERF = join(repoRoot, 'dist', 'cli', 'udt-perf.js');
const UDTPEER = join(repoRoot, 'test', 'interop', 'bin', 'udtpeer');
/** Any single process is killed (by its PID) after this long. */
const PROCESS_LIMIT_MS = 600_000;
/** A server that has not said it listens by then has failed. */
const READY_LIMIT_MS = 30_000;

interface Usage {
  wallS: number;
  cpuS: number;
  maxRssKb: number;
}

/** One finished process: its output and what GNU time measured. */
interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
  usage: Usage;
}

interface Started {
  /** Resolves when the process is ready for a client; `port` when it picked its own. */
  ready: Promise<{ port?: number }>;
  done: Promise<Done>;
  /** SIGKILLs the process group (GNU time and the command under it) if it still runs. */
  kill(): void;
}

const running = new Set<Started>();

interface RunResult {
  mbitPerS: number;
  cpuSecPerGB: number;
  /** Peak RSS of the sending and the receiving process, MB. */
  senderRssMB: number;
  receiverRssMB: number;
  note?: string;
}

interface Contender {
  key: string;
  label: string;
  unavailable(): Promise<string | undefined>;
  run(bytes: number, mss: number): Promise<RunResult>;
}

/** Starts `cmd` under GNU time; `readyWhen` sees the output so far and says when (and on which port) the process is ready. */
function startTimed(cmd: string[], readyWhen?: (out: string) => { port?: number } | undefined): Started {
  const dir = mkdtempSync(join(tmpdir(), 'udt-loopback-'));
  const timeFile = join(dir, 'time');
  // Its own process group, so a kill reaches the command under GNU time too.
  const child = spawn(GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const kill = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  let stdout = '';
  let stderr = '';
  let markReady: (v: { port?: number }) => void = () => {};
  let failReady: (e: Error) => void = () => {};
  const ready = new Promise<{ port?: number }>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  if (!readyWhen) markReady({});
  const readyLimit = setTimeout(() => failReady(new Error(`${cmd.join(' ')}: not ready after ${READY_LIMIT_MS} ms`)), READY_LIMIT_MS);
  void ready.finally(() => clearTimeout(readyLimit)).catch(() => {});
  const check = () => {
    const r = readyWhen?.(stdout + stderr);
    if (r) markReady(r);
  };
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const limit = setTimeout(kill, PROCESS_LIMIT_MS);
  const done = new Promise<Done>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(limit);
      failReady(new Error(`${cmd.join(' ')} exited (code ${code}) before it was ready: ${stderr.slice(-300)}`));
      try {
        // GNU time prints "Command exited with non-zero status N" before the figures when the command failed.
        const line = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!;
        const [wallS, userS, sysS, maxRssKb] = line.split(' ').map(Number);
        resolve({ code, stdout, stderr, usage: { wallS, cpuS: userS + sysS, maxRssKb } });
      } catch (err) {
        reject(new Error(`no GNU time figures for ${cmd.join(' ')}: ${(err as Error).message}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
  done.catch(() => {});
  ready.catch(() => {});
  const started: Started = { ready, done, kill };
  running.add(started);
  void done.finally(() => running.delete(started)).catch(() => {});
  return started;
}

/** Kills whatever this benchmark started and still runs (after a failed run, or at exit). */
function killRunning(): void {
  for (const s of running) s.kill();
}

/** A TCP port that was free a moment ago (iperf3 needs its port up front). */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function expectOk(what: string, d: Done): void {
  if (d.code !== 0) throw new Error(`${what} exited with ${d.code}: ${(d.stderr || d.stdout).slice(-400)}`);
}

function result(bytesReceived: number, seconds: number, bytes: number, sender: Done, receiver: Done, note?: string): RunResult {
  return {
    mbitPerS: (bytesReceived * 8) / seconds / 1e6,
    cpuSecPerGB: (sender.usage.cpuS + receiver.usage.cpuS) / (bytes / 1e9),
    senderRssMB: sender.usage.maxRssKb / 1024,
    receiverRssMB: receiver.usage.maxRssKb / 1024,
    note,
  };
}

// ---------- contenders ----------

interface UdtPerfJson {
  end?: { receiver?: { bytes: number; seconds: number; lossPackets?: number }; sender?: { retransmits?: number } };
  start?: { engine?: string; serverEngine?: string };
}

function udtPerf(engine: 'dgram' | 'native'): Contender {
  return {
    key: `udt-${engine}`,
    label: `udt-perf, ${engine} engine`,
    async unavailable() {
      if (engine === 'native') {
        const { loadNativeBinding } = await import('../../src/ts/engine/native-binding.js');
        const b = loadNativeBinding();
        if (!b.binding) return `native engine unavailable: ${b.reason}`;
      }
      return undefined;
    },
    async run(bytes, mss) {
      const common = ['--engine', engine, '--mss', String(mss)];
      const server = startTimed([process.execPath, UDT_PERF, '-s', '-p', '0', '--host', HOST, '--once', '--json', ...common], (out) => {
        const m = /listening on \S+:(\d+)/.exec(out);
        return m ? { port: Number(m[1]) } : undefined;
      });
      const { port } = await server.ready;
      const client = startTimed([process.execPath, UDT_PERF, '-c', HOST, '-p', String(port!), '-n', String(bytes), '--json', ...common]);
      const c = await client.done;
      const s = await server.done;
      expectOk('udt-perf client', c);
      expectOk('udt-perf server', s);
      const v = JSON.parse(c.stdout.trim().split('\n').pop()!) as UdtPerfJson;
      const rx = v.end?.receiver;
      if (!rx || rx.bytes !== bytes) throw new Error(`udt-perf: receiver got ${rx?.bytes} of ${bytes} bytes`);
      if (v.start?.engine !== engine || v.start?.serverEngine !== engine) throw new Error(`udt-perf ran engines ${v.start?.engine}/${v.start?.serverEngine}, not ${engine}`);
      return result(rx.bytes, rx.seconds, bytes, c, s, `${v.end?.sender?.retransmits ?? '?'} retransmitted, ${rx.lossPackets ?? '?'} lost packets`);
    },
  };
}

interface Iperf3Json {
  error?: string;
  end?: { sum_received?: { bytes: number; seconds: number; lost_percent?: number } };
}

function iperf3(udp: boolean): Contender {
  return {
    key: udp ? 'iperf3-udp' : 'iperf3-tcp',
    label: udp ? 'iperf3 UDP -b 0 -l 1472 (no reliability)' : 'iperf3 TCP (loopback MTU 65536)',
    async unavailable() {
      return spawnSync('iperf3', ['--version']).status === 0 ? undefined : 'iperf3 not found (apt-get install iperf3)';
    },
    async run(bytes) {
      const port = await freeTcpPort();
      const server = startTimed(['iperf3', '-s', '-1', '-p', String(port), '-B', HOST, '--forceflush'], (out) => (out.includes('Server listening') ? {} : undefined));
      await server.ready;
      const args = ['iperf3', '-c', HOST, '-p', String(port), '-n', String(bytes), '--json'];
      if (udp) args.push('-u', '-b', '0', '-l', '1472');
      const c = await startTimed(args).done;
      const s = await server.done;
      const v = JSON.parse(c.stdout) as Iperf3Json;
      if (v.error) throw new Error(`iperf3: ${v.error}`);
      expectOk('iperf3 client', c);
      const rx = v.end?.sum_received;
      if (!rx) throw new Error('iperf3 JSON has no end.sum_received');
      return result(rx.bytes, rx.seconds, bytes, c, s, udp ? `${(rx.lost_percent ?? 0).toFixed(1)}% of datagrams lost` : undefined);
    },
  };
}

interface PeerEvent {
  event: string;
  port?: number;
  bytesRecv?: number;
  elapsedMs?: number;
}

function events(out: string): PeerEvent[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as PeerEvent);
}

const libudt: Contender = {
  key: 'libudt',
  label: 'libudt 4.11 → libudt 4.11 (udtpeer)',
  async unavailable() {
    if (existsSync(UDTPEER)) return undefined;
    const s = libudtStatus();
    if (!s.available) return s.reason;
    try {
      await buildUdtPeer();
      return undefined;
    } catch (err) {
      return `building udtpeer failed: ${(err as Error).message.split('\n')[0]}`;
    }
  },
  async run(bytes, mss) {
    const common = ['--mss', String(mss), '--max-time', String(PROCESS_LIMIT_MS / 1000 - 10)];
    const server = startTimed([UDTPEER, 'listen', '--host', HOST, '--port', '0', '--discard', '--expect-bytes', String(bytes), ...common], (out) => {
      const listening = events(out).find((e) => e.event === 'listening');
      return listening ? { port: listening.port } : undefined;
    });
    const { port } = await server.ready;
    const c = await startTimed([UDTPEER, 'connect', '--host', HOST, '--port', String(port!), '--send-bytes', String(bytes), ...common]).done;
    const s = await server.done;
    expectOk('udtpeer sender', c);
    expectOk('udtpeer receiver', s);
    const done = events(s.stdout).find((e) => e.event === 'done');
    if (!done || done.bytesRecv !== bytes || !done.elapsedMs) throw new Error(`udtpeer receiver: ${JSON.stringify(done)}`);
    return result(bytes, done.elapsedMs / 1000, bytes, c, s);
  },
};

const CONTENDERS: Contender[] = [udtPerf('dgram'), udtPerf('native'), iperf3(true), iperf3(false), libudt];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string', default: '2048' },
      runs: { type: 'string', default: '3' },
      mss: { type: 'string', default: '1500' },
      only: { type: 'string' },
    },
  });
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} not found: apt-get install time (GNU time measures each process's CPU and peak RSS)`);
  const bytes = Number(values['size-mb']) * 1024 * 1024;
  const runs = Number(values.runs);
  const mss = Number(values.mss);
  const wanted = values.only ? values.only.split(',') : CONTENDERS.map((c) => c.key);
  if (wanted.some((k) => k.startsWith('udt-'))) await buildOnce(['dist/cli/udt-perf.js']);
  const active: Contender[] = [];
  const skipped: string[] = [];
  for (const c of CONTENDERS.filter((x) => wanted.includes(x.key))) {
    const why = await c.unavailable();
    if (why) skipped.push(`${c.label}: ${why}`);
    else active.push(c);
  }
  const loadBefore = loadAverage();
  const all = new Map<string, RunResult[]>(active.map((c) => [c.key, []]));
  for (let run = 0; run < runs; run++) {
    for (const c of active) {
      try {
        const r = await c.run(bytes, mss);
        all.get(c.key)!.push(r);
        console.error(`run ${run + 1}/${runs} ${c.key}: ${r.mbitPerS.toFixed(0)} Mbit/s, ${r.cpuSecPerGB.toFixed(2)} CPU s/GB, RSS ${r.senderRssMB.toFixed(0)}/${r.receiverRssMB.toFixed(0)} MB${r.note ? `, ${r.note}` : ''}`);
      } catch (err) {
        console.error(`run ${run + 1}/${runs} ${c.key}: failed: ${(err as Error).message}`);
      } finally {
        killRunning();
      }
    }
  }

  console.log(`<!-- node --import tsx bench/throughput/loopback.ts --size-mb ${values['size-mb']} --runs ${runs} --mss ${mss}${values.only ? ` --only ${values.only}` : ''} -->`);
  console.log(`<!-- ${machineFacts()}; load average before ${loadBefore}, after ${loadAverage()} -->`);
  console.log('');
  console.log(`Loopback, one transfer of ${values['size-mb']} MiB per run, MSS ${mss} for the UDT contenders; median of ${runs} runs (rounds interleaved). CPU = user + system of both processes (GNU time) per GB (10^9 bytes) sent.`);
  console.log('');
  const medianOf = (key: string, f: (r: RunResult) => number) => {
    const rs = all.get(key) ?? [];
    return rs.length ? median(rs.map(f)) : NaN;
  };
  // Ratios against libudt (the protocol's reference implementation) when it ran.
  const ref = { goodput: medianOf('libudt', (r) => r.mbitPerS), cpu: medianOf('libudt', (r) => r.cpuSecPerGB) };
  const ratio = (x: number, base: number) => (Number.isFinite(base) ? `${(x / base).toFixed(2)}×` : 'n/a');
  console.log('| contender | goodput Mbit/s (median, min–max) | goodput ÷ libudt | CPU s per GB (both ends) | CPU ÷ libudt | peak RSS sender / receiver | runs ok | last run |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const c of active) {
    const rs = all.get(c.key)!;
    if (rs.length === 0) {
      console.log(`| ${c.label} | failed | | | | | 0/${runs} | |`);
      continue;
    }
    const g = rs.map((r) => r.mbitPerS);
    const goodput = medianOf(c.key, (r) => r.mbitPerS);
    const cpu = medianOf(c.key, (r) => r.cpuSecPerGB);
    console.log(
      `| ${c.label} | ${goodput.toFixed(0)} (${Math.min(...g).toFixed(0)}–${Math.max(...g).toFixed(0)}) | ${ratio(goodput, ref.goodput)} | ${cpu.toFixed(2)} | ${ratio(cpu, ref.cpu)} | ` +
        `${medianOf(c.key, (r) => r.senderRssMB).toFixed(0)} / ${medianOf(c.key, (r) => r.receiverRssMB).toFixed(0)} MB | ${rs.length}/${runs} | ${rs.at(-1)!.note ?? ''} |`,
    );
  }
  for (const s of skipped) console.log(`\nskipped: ${s}`);
}

process.once('exit', killRunning);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killRunning();
    process.exit(130);
  });
}
main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
