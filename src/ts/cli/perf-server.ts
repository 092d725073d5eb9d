// udt-perf server: answers each client stream, measures its side, reports back; groups streams into tests.

import type { SocketOptions, UdtServer, UdtSocket } from '../api/index.js';
import { ByteReader } from './byte-reader.js';
import { isHello, line, MAX_CONTROL_LINE, parseLine, PERF_VERSION, sideTotals, type Hello, type SideTotals } from './perf-protocol.js';
import { intervalRow, type IntervalRow } from './perf-report.js';
import { receiveFrames, sendFrames, StreamMeter } from './perf-stream.js';
import { closeGracefully, listenOn, peerName } from './socket-util.js';

const HELLO_TIMEOUT_MS = 10_000;

export interface ServerStreamResult {
  stream: number;
  role: 'sender' | 'receiver';
  /** This (server) side. */
  server: SideTotals;
  /** What the client reported (reverse tests only). */
  client: SideTotals | null;
}

export interface ServerTestResult {
  test: string;
  client: string;
  reverse: boolean;
  streams: ServerStreamResult[];
  failures: string[];
}

export interface PerfServerOptions {
  host?: string;
  port: number;
  socket: SocketOptions;
  intervalSeconds: number;
  onListening?: (address: string, port: number) => void;
  onInterval?: (client: string, rows: IntervalRow[]) => void;
  onTest: (r: ServerTestResult) => void;
}

interface TestState {
  result: ServerTestResult;
  expected: number;
  settled: number;
}

export class PerfServer {
  private server: UdtServer | null = null;
  private readonly tests = new Map<string, TestState>();
  private readonly meters = new Set<{ meter: StreamMeter; client: string; t0: number; last: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: PerfServerOptions) {}

  async listen(): Promise<void> {
    this.server = await listenOn(this.o.socket, this.o.port, this.o.host);
    const a = this.server.address()!;
    this.o.onListening?.(a.address, a.port);
    this.server.on('connection', (socket: UdtSocket) => {
      socket.on('error', () => {});
      void this.serve(socket);
    });
    this.timer = setInterval(() => this.tick(), this.o.intervalSeconds * 1000);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.server?.closeAllConnections();
    this.server?.close();
  }

  private tick(): void {
    const byClient = new Map<string, IntervalRow[]>();
    const now = performance.now();
    for (const m of this.meters) {
      const { bytes, stats } = m.meter.sample();
      const rows = byClient.get(m.client) ?? [];
      rows.push(intervalRow(m.meter.id, (m.last - m.t0) / 1000, (now - m.t0) / 1000, bytes, stats, m.meter.role));
      byClient.set(m.client, rows);
      m.last = now;
    }
    for (const [client, rows] of byClient) this.o.onInterval?.(client, rows);
  }

  private async readHello(reader: ByteReader, socket: UdtSocket): Promise<Hello | null> {
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    try {
      const v = parseLine(await reader.line(MAX_CONTROL_LINE), 'test request');
      if (isHello(v) && v.udtPerf === PERF_VERSION && v.stream >= 1 && v.stream <= v.streams && v.streams <= 128) return v;
      socket.write(line({ udtPerf: PERF_VERSION, ok: false, error: `not a udt-perf v${PERF_VERSION} test request` }));
      await closeGracefully(socket);
      return null;
    } catch {
      socket.destroy();
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  private async serve(socket: UdtSocket): Promise<void> {
    const reader = new ByteReader(socket);
    const client = peerName(socket);
    const hello = await this.readHello(reader, socket);
    if (!hello) return;
    const state = this.testFor(hello, client);
    const meter = new StreamMeter(hello.stream, socket, hello.reverse ? 'sender' : 'receiver');
    socket.write(line({ udtPerf: PERF_VERSION, ok: true, engine: socket.getStats({ clear: false }).engine }));
    meter.start();
    meter.sample();
    const entry = { meter, client, t0: meter.started, last: meter.started };
    this.meters.add(entry);
    try {
      if (!hello.reverse) {
        await receiveFrames(meter, reader);
        const server = meter.totals();
        socket.write(line({ type: 'done', ...server }));
        state.result.streams.push({ stream: hello.stream, role: 'receiver', server, client: null });
      } else {
        await sendFrames(meter, hello);
        const done = sideTotals(parseLine(await reader.line(MAX_CONTROL_LINE), 'client report'));
        meter.finished = performance.now();
        const server = meter.totals();
        socket.write(line({ type: 'report', ...server }));
        state.result.streams.push({ stream: hello.stream, role: 'sender', server, client: done });
      }
      this.meters.delete(entry);
      await closeGracefully(socket, 10_000);
    } catch (err) {
      this.meters.delete(entry);
      socket.destroy();
      state.result.failures.push(`stream ${hello.stream}: ${(err as Error).message}`);
    }
    state.settled++;
    if (state.settled === state.expected) {
      this.tests.delete(hello.test);
      state.result.streams.sort((a, b) => a.stream - b.stream);
      this.o.onTest(state.result);
    }
  }

  private testFor(hello: Hello, client: string): TestState {
    let t = this.tests.get(hello.test);
    if (!t) {
      t = { result: { test: hello.test, client, reverse: hello.reverse, streams: [], failures: [] }, expected: hello.streams, settled: 0 };
      this.tests.set(hello.test, t);
    }
    return t;
  }
}
