// udt-perf client: opens P streams (sharing one local port), runs the test, collects both sides' totals.

import { randomUUID } from 'node:crypto';
import { connect, type SocketOptions, type UdtSocket } from '../api/index.js';
import { ByteReader } from './byte-reader.js';
import { CliError, ExitCode, toCliError } from './exit-codes.js';
import { line, MAX_CONTROL_LINE, parseLine, PERF_VERSION, sideTotals, type Hello, type SideTotals } from './perf-protocol.js';
import { intervalRow, sumRows, sumTotals, type IntervalRow } from './perf-report.js';
import { receiveFrames, sendFrames, StreamMeter, type Role } from './perf-stream.js';
import { closeGracefully, hostPortText, waitConnect } from './socket-util.js';

export interface PerfClientOptions {
  host: string;
  port: number;
  seconds: number | null;
  bytes: number | null;
  streams: number;
  reverse: boolean;
  intervalSeconds: number;
  socket: SocketOptions;
  signal?: AbortSignal;
  onStart?: (info: { engine: string; serverEngine: string; localPort: number }) => void;
  onInterval?: (rows: IntervalRow[], sum: IntervalRow) => void;
}

export interface StreamResult {
  stream: number;
  sender: SideTotals;
  receiver: SideTotals;
}

export interface PerfResult {
  start: {
    host: string;
    port: number;
    localPort: number;
    streams: number;
    reverse: boolean;
    seconds: number | null;
    bytes: number | null;
    engine: string;
    serverEngine: string;
    mss: number;
  };
  intervals: { streams: IntervalRow[]; sum: IntervalRow }[];
  end: { streams: StreamResult[]; sender: SideTotals; receiver: SideTotals };
}

const HELLO_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CliError(message, ExitCode.CONNECTION_LOST, 'TIMEOUT')), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function lostError(err: unknown, peer: string): CliError {
  if (err instanceof CliError || typeof (err as { code?: unknown }).code === 'string') return toCliError(err, peer);
  return new CliError(`test aborted: ${(err as Error).message}`, ExitCode.CONNECTION_LOST, 'TEST_ABORTED');
}

async function openStreams(o: PerfClientOptions, peer: string): Promise<UdtSocket[]> {
  const base = { ...o.socket, host: o.host, port: o.port, signal: o.signal };
  const first = connect(base);
  const sockets = [first];
  try {
    await waitConnect(first);
    for (let i = 1; i < o.streams; i++) sockets.push(connect({ ...base, localPort: first.localPort }));
    await Promise.all(sockets.slice(1).map(waitConnect));
    return sockets;
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw toCliError(err, peer);
  }
}

export async function runPerfClient(o: PerfClientOptions): Promise<PerfResult> {
  const peer = hostPortText(o.host, o.port);
  const sockets = await openStreams(o, peer);
  for (const s of sockets) s.on('error', () => {});
  const role: Role = o.reverse ? 'receiver' : 'sender';
  const intervals: PerfResult['intervals'] = [];
  let timer: NodeJS.Timeout | null = null;
  try {
    const test = randomUUID();
    const readers = sockets.map((s) => new ByteReader(s));
    sockets.forEach((s, i) => {
      const hello: Hello = { udtPerf: PERF_VERSION, test, stream: i + 1, streams: o.streams, reverse: o.reverse, seconds: o.seconds, bytes: o.bytes };
      s.write(line(hello));
    });
    const replies = await withTimeout(
      Promise.all(readers.map(async (r) => parseLine(await r.line(MAX_CONTROL_LINE), 'server greeting'))),
      HELLO_TIMEOUT_MS,
      `no greeting from ${peer} (is it 'udt-perf -s'?)`,
    );
    const refused = replies.find((r) => r.ok !== true);
    if (refused) throw new CliError(`server refused the test: ${String(refused.error ?? refused.message ?? 'no reason given')}`, ExitCode.REFUSED, 'REFUSED');
    const first = sockets[0].getStats({ clear: false });
    const info = { engine: first.engine, serverEngine: String(replies[0].engine ?? 'unknown'), localPort: sockets[0].localPort ?? 0 };
    o.onStart?.(info);

    const meters = sockets.map((s, i) => new StreamMeter(i + 1, s, role));
    const t0 = performance.now();
    for (const m of meters) {
      m.start();
      m.sample();
    }
    let last = t0;
    const tick = () => {
      const now = performance.now();
      const rows = meters.map((m) => {
        const { bytes, stats } = m.sample();
        return intervalRow(m.id, (last - t0) / 1000, (now - t0) / 1000, bytes, stats, role);
      });
      last = now;
      const sum = sumRows(rows);
      intervals.push({ streams: rows, sum });
      o.onInterval?.(rows, sum);
    };
    timer = setInterval(tick, o.intervalSeconds * 1000);

    const results = await Promise.all(
      meters.map(async (m, i): Promise<StreamResult> => {
        const reader = readers[i];
        const report = async (what: string) => {
          const t = sideTotals(parseLine(await reader.line(MAX_CONTROL_LINE), what));
          if (!t) throw new Error(`malformed ${what}`);
          return t;
        };
        if (!o.reverse) {
          await sendFrames(m, { seconds: o.seconds, bytes: o.bytes }, o.signal);
          // A timed test does not wait forever for a send buffer that drains slowly.
          const drainMs = o.seconds !== null ? Math.max(10, o.seconds) * 1000 : Infinity;
          const pending = report('server report');
          const receiver = drainMs === Infinity ? await pending : await withTimeout(pending, drainMs, `the data sent did not drain within ${drainMs / 1000} s after the test time`);
          m.finished = performance.now();
          return { stream: m.id, sender: m.totals(), receiver };
        }
        await receiveFrames(m, reader);
        const mine = m.totals();
        m.socket.write(line({ type: 'done', ...mine }));
        return { stream: m.id, sender: await report('server report'), receiver: mine };
      }),
    );
    clearInterval(timer);
    timer = null;
    if (performance.now() - last > 100) tick();
    await Promise.all(sockets.map((s) => closeGracefully(s)));
    return {
      start: { host: o.host, port: o.port, localPort: info.localPort, streams: o.streams, reverse: o.reverse, seconds: o.seconds, bytes: o.bytes, engine: info.engine, serverEngine: info.serverEngine, mss: first.mss },
      intervals,
      end: { streams: results, sender: sumTotals(results.map((r) => r.sender)), receiver: sumTotals(results.map((r) => r.receiver)) },
    };
  } catch (err) {
    for (const s of sockets) s.destroy();
    if (o.signal?.aborted) throw new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED');
    throw lostError(err, peer);
  } finally {
    if (timer) clearInterval(timer);
  }
}
