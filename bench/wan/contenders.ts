// Contenders of the WAN benchmark: how to start each transfer's server (namespace B) and client (namespace A) and read its goodput.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NsProcess } from '../linkem/linkem.js';
import { buildUdtPeer, libudtStatus, UDTPEER_BINARY } from '../../test/support/libudt.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunContext {
  /** Server address (namespace B). */
  host: string;
  port: number;
  durationS: number;
  /** Bottleneck rate in bits/s. */
  rateBps: number;
}

export interface Measurement {
  goodputBps: number;
  /** Receiver-side bytes and seconds the goodput was computed from. */
  bytes: number;
  seconds: number;
  /** Contender-specific detail for the JSON output (retransmits, loss counts...). */
  detail?: Record<string, unknown>;
}

export interface Contender {
  name: string;
  /** Prepares the contender (e.g. builds it) and returns why it cannot run, or undefined when it can. */
  prepare(): Promise<string | undefined>;
  server(ctx: RunContext): string[];
  /** A server stdout/stderr line meaning it accepts connections; without it the harness waits 500 ms. */
  serverReady?: (text: string) => boolean;
  client(ctx: RunContext): string[];
  /** Stop the client after this many seconds (for contenders that do not end by themselves after durationS). */
  clientRunsS?: (ctx: RunContext) => number;
  /** Reads the result from the finished processes; throws with a reason when there is none. */
  parse(ctx: RunContext, server: NsProcess, client: NsProcess): Measurement;
}

function commandMissing(cmd: string, hint: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${cmd} not found (${hint})`;
}

interface Iperf3Json {
  error?: string;
  end?: {
    sum_received?: { bytes: number; seconds: number; bits_per_second: number };
    sum_sent?: { retransmits?: number };
    sender_tcp_congestion?: string;
  };
}

function iperf3Tcp(cc: string): Contender {
  return {
    name: `TCP ${cc.toUpperCase()} (iperf3)`,
    async prepare() {
      const missing = commandMissing('iperf3', 'apt-get install iperf3');
      if (missing) return missing;
      const available = spawnSync('sysctl', ['-n', 'net.ipv4.tcp_available_congestion_control'], { encoding: 'utf8' });
      if (!available.stdout.split(/\s+/).includes(cc)) {
        return `${cc} not in net.ipv4.tcp_available_congestion_control (try modprobe tcp_${cc})`;
      }
      return undefined;
    },
    server: (ctx) => ['iperf3', '-s', '-1', '-p', String(ctx.port), '--forceflush'],
    serverReady: (text) => text.includes('Server listening'),
    client: (ctx) => [
      'iperf3', '-c', ctx.host, '-p', String(ctx.port), '-t', String(ctx.durationS), '-C', cc, '--json',
      '--connect-timeout', '5000',
    ],
    parse(_ctx, _server, client) {
      let result: Iperf3Json;
      try {
        result = JSON.parse(client.stdout()) as Iperf3Json;
      } catch {
        throw new Error(`iperf3 printed no JSON: ${client.stderr().slice(-300)}`);
      }
      if (result.error) throw new Error(`iperf3: ${result.error}`);
      const rx = result.end?.sum_received;
      if (!rx) throw new Error('iperf3 JSON has no end.sum_received');
      const congestion = result.end?.sender_tcp_congestion;
      if (congestion && congestion !== cc) throw new Error(`iperf3 ran ${congestion}, not ${cc}`);
      return {
        goodputBps: rx.bits_per_second,
        bytes: rx.bytes,
        seconds: rx.seconds,
        detail: { retransmits: result.end?.sum_sent?.retransmits, congestion },
      };
    },
  };
}

interface UdtPeerEvent {
  event: string;
  bytesRecv?: number;
  elapsedMs?: number;
  perf?: { pktRcvLossTotal?: number; pktRecvTotal?: number } | null;
}

function parseEvents(p: NsProcess): Array<{ at: number; ev: UdtPeerEvent }> {
  const events: Array<{ at: number; ev: UdtPeerEvent }> = [];
  for (const line of p.lines) {
    if (line.stream !== 'stdout' || !line.text.startsWith('{')) continue;
    try {
      events.push({ at: line.at, ev: JSON.parse(line.text) as UdtPeerEvent });
    } catch {
      // not an event line
    }
  }
  return events;
}

/**
 * libudt 4.11 through test/interop/bin/udtpeer: the client sends more than the link can carry in durationS and is
 * stopped after durationS; goodput is the receiver's byte count over the time since it accepted the connection.
 */
const libudt4: Contender = {
  name: 'libudt4 (udtpeer)',
  async prepare() {
    if (existsSync(UDTPEER_BINARY)) {
      try {
        await buildUdtPeer();
      } catch {
        // keep the existing binary
      }
      return undefined;
    }
    const status = libudtStatus();
    if (!status.available) return `udtpeer missing and cannot be built: ${status.reason}`;
    try {
      await buildUdtPeer();
      return undefined;
    } catch (err) {
      return `building udtpeer failed: ${(err as Error).message.split('\n')[0]}`;
    }
  },
  server: (ctx) => [
    UDTPEER_BINARY, 'listen', '--host', ctx.host, '--port', String(ctx.port), '--discard', '--perf-interval', '200',
    '--max-time', String(ctx.durationS + 30),
  ],
  serverReady: (text) => text.includes('"event":"listening"'),
  client: (ctx) => [
    UDTPEER_BINARY, 'connect', '--host', ctx.host, '--port', String(ctx.port),
    '--send-bytes', String(Math.ceil((ctx.rateBps / 8) * ctx.durationS * 1.5)), '--max-time', String(ctx.durationS + 20),
  ],
  clientRunsS: (ctx) => ctx.durationS,
  parse(ctx, server) {
    const events = parseEvents(server);
    const connected = events.find((e) => e.ev.event === 'connected');
    if (!connected) {
      const err = events.find((e) => e.ev.event === 'error');
      throw new Error(`udtpeer never connected${err ? `: ${JSON.stringify(err.ev)}` : ''}`);
    }
    const done = events.find((e) => e.ev.event === 'done');
    if (done && done.ev.bytesRecv !== undefined && done.ev.elapsedMs) {
      const seconds = done.ev.elapsedMs / 1000;
      return { goodputBps: (done.ev.bytesRecv * 8) / seconds, bytes: done.ev.bytesRecv, seconds, detail: { complete: true } };
    }
    const limit = connected.at + ctx.durationS * 1000 + 300;
    const samples = events.filter((e) => e.ev.event === 'perf' && e.ev.bytesRecv !== undefined && e.at <= limit);
    const last = samples.at(-1);
    if (!last || last.at <= connected.at) throw new Error('udtpeer printed no progress');
    const seconds = (last.at - connected.at) / 1000;
    const bytes = last.ev.bytesRecv!;
    return {
      goodputBps: (bytes * 8) / seconds,
      bytes,
      seconds,
      detail: { complete: false, rcvLossTotal: last.ev.perf?.pktRcvLossTotal },
    };
  },
};

interface UdtPerfJson {
  end?: { receiver?: { bytes: number; seconds: number; retransmits?: number; lossPackets?: number; engine?: string } };
  start?: { engine?: string; serverEngine?: string };
}

/** Our udt-perf CLI (iperf-like): from source through tsx (never a stale build), else the built dist/ one. */
function udtPerfCommand(): string[] | undefined {
  const source = join(ROOT, 'src', 'ts', 'cli', 'udt-perf.ts');
  if (existsSync(source)) return [process.execPath, '--import', 'tsx', source];
  const built = join(ROOT, 'dist', 'cli', 'udt-perf.js');
  if (existsSync(built)) return [process.execPath, built];
  return undefined;
}

/** udt-perf with the given congestion controller ('udt' is the library default, libudt's own algorithm). */
const udtPerf = (congestion: 'udt' | 'bbr'): Contender => ({
  name: congestion === 'udt' ? 'udt (udt-perf)' : `udt, ${congestion} CC (udt-perf)`,
  async prepare() {
    return udtPerfCommand() ? undefined : 'udt-perf not built yet (no dist/cli/udt-perf.js or src/ts/cli/udt-perf.ts)';
  },
  server: (ctx) => [...udtPerfCommand()!, '-s', '--once', '--host', ctx.host, '-p', String(ctx.port)],
  serverReady: (text) => /listen/i.test(text),
  client: (ctx) => [...udtPerfCommand()!, '-c', ctx.host, '-p', String(ctx.port), '-t', String(ctx.durationS), '--json', '--congestion', congestion],
  parse(_ctx, _server, client) {
    const lines = client.stdout().split('\n').filter((l) => l.startsWith('{'));
    for (const line of lines.reverse()) {
      let v: UdtPerfJson;
      try {
        v = JSON.parse(line) as UdtPerfJson;
      } catch {
        continue;
      }
      const rx = v.end?.receiver;
      if (rx && rx.seconds > 0) {
        return {
          goodputBps: (rx.bytes * 8) / rx.seconds,
          bytes: rx.bytes,
          seconds: rx.seconds,
          detail: { lossPackets: rx.lossPackets, engine: v.start?.engine, serverEngine: v.start?.serverEngine },
        };
      }
    }
    throw new Error(`udt-perf printed no result JSON: ${client.stderr().slice(-300)}`);
  },
});

/** Every contender, keyed by the name used with --contenders. */
export const CONTENDERS: Record<string, Contender> = {
  cubic: iperf3Tcp('cubic'),
  bbr: iperf3Tcp('bbr'),
  libudt: libudt4,
  'udt-perf': udtPerf('udt'),
  'udt-bbr': udtPerf('bbr'),
};
