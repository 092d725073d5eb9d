// Server memory per idle connection: one port holding N idle connections from another process, RSS and V8 heap per connection.
// Run: node --import tsx bench/scale/idle-memory.ts [--conns 1000] [--settle-ms 3000] [--only udt-dgram,udt-native,udx,libudt]
//      [--libudt-conns 200] [--no-census] [--top 15]
// The server runs with --expose-gc: it collects garbage, measures, lets the clients connect, waits, collects, measures again.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getHeapSnapshot } from 'node:v8';
import { connect, createServer, type UdtServer, type UdtSocket } from '../../src/ts/api/index.js';
import { killAllUdtPeers, spawnUdtPeer, libudtStatus, type UdtPeer } from '../../test/support/libudt.js';
import { ask, exitOnRequest, forkRole, stopChild } from '../common/child.js';
import { loadAverage, machineFacts } from '../common/machine.js';
import { acceptUdxStreams, loadUdx, type UdxStream } from '../common/udx.js';

const SCRIPT = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';
/** Connection attempts in flight at once from the client process. */
const CONNECT_CONCURRENCY = 50;
const CONNECT_TIMEOUT_MS = 120_000;
/** udx stream ids: client i uses CLIENT_ID0 + i, the server SERVER_ID0 + i. */
const CLIENT_ID0 = 1;
const SERVER_ID0 = 1_000_000;

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

interface HeapRow {
  key: string;
  count: number;
  bytes: number;
}

/** What the server reports at one point: its memory with `connections` open, and how busy it was while they idled. */
interface Point {
  mem: Mem;
  connections: number;
  /** Server CPU time during the settle window, ms, and the datagrams it sent and received then. */
  idleCpuMs: number;
  idleDatagrams?: { sent: number; received: number };
  settleMs: number;
  /** Heap snapshot growth by constructor since the previous census, biggest first. */
  heapGrowth?: HeapRow[];
}

interface Measurement {
  before: Mem;
  /** With half the connections, then with all of them: (all − half) / (n − half) leaves out one-off costs (JIT code, heap growth). */
  half: Point;
  all: Point;
}

// ---------- measuring (inside the server) ----------

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the server with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
}

function memNow(): Mem {
  collect();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

type Census = Map<string, { count: number; bytes: number }>;

/** Self size and count per node kind in a heap snapshot (objects by constructor name, closures by function name). */
async function heapCensus(): Promise<Census> {
  const chunks: Buffer[] = [];
  for await (const c of getHeapSnapshot()) chunks.push(c as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [tIdx, nIdx, sIdx] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const census: Census = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + tIdx]];
    const name = snap.strings[snap.nodes[i + nIdx]];
    const key = type === 'object' || type === 'native' ? name : type === 'closure' ? `closure ${name || '(anonymous)'}` : `(${type})`;
    const row = census.get(key) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += snap.nodes[i + sIdx];
    census.set(key, row);
  }
  return census;
}

function growth(before: Census, after: Census): HeapRow[] {
  const rows: HeapRow[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    if (a.bytes !== b.bytes) rows.push({ key: key.slice(0, 60), count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}

/**
 * The shared server protocol: report the port and the baseline; on {op: 'measure', conns} wait for that many
 * connections, let them idle for settleMs, collect garbage and report a Point (with a heap census when asked).
 */
async function serveAndMeasure(
  port: number,
  count: () => number,
  stats: () => { sent: number; received: number } | undefined,
  close: () => Promise<void> | void,
  census: boolean,
): Promise<void> {
  const before = memNow();
  let lastCensus: Census | null = null;
  exitOnRequest(close);
  process.on('message', async (m: { op?: string; conns?: number; settleMs?: number }) => {
    if (m.op !== 'measure') return;
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    while (count() < m.conns! && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cpu0 = process.cpuUsage();
    const d0 = stats();
    await new Promise((r) => setTimeout(r, m.settleMs));
    const cpu = process.cpuUsage(cpu0);
    const d1 = stats();
    const point: Point = {
      mem: memNow(),
      connections: count(),
      idleCpuMs: (cpu.user + cpu.system) / 1000,
      idleDatagrams: d0 && d1 ? { sent: d1.sent - d0.sent, received: d1.received - d0.received } : undefined,
      settleMs: m.settleMs!,
    };
    if (census) {
      const now = await heapCensus();
      if (lastCensus) point.heapGrowth = growth(lastCensus, now);
      lastCensus = now;
    }
    process.send!(point);
  });
  process.send!({ port, before });
}

async function udtServer(engine: 'dgram' | 'native', census: boolean): Promise<void> {
  const sockets: UdtSocket[] = [];
  const server: UdtServer = createServer({ engine }, (s) => {
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const stats = () => {
    const s = server.getStats();
    return s ? { sent: s.datagramsSent, received: s.datagramsReceived } : undefined;
  };
  await serveAndMeasure(server.address()!.port, () => server.connections, stats, () => {
    server.closeAllConnections();
    server.close();
  }, census);
}

async function udxServer(census: boolean): Promise<void> {
  const { udx, reason } = loadUdx();
  if (!udx) throw new Error(reason);
  const sock = udx.createSocket();
  sock.bind(0, HOST);
  const streams = acceptUdxStreams(udx, sock);
  await serveAndMeasure(sock.address().port, () => streams.size, () => undefined, async () => {
    for (const st of streams.values()) st.destroy();
    await sock.close();
  }, census);
}

// ---------- the client process ----------

/** Opens connections up to a total, `CONNECT_CONCURRENCY` at a time; `close` drops them all. */
interface ClientSet {
  grow(total: number): Promise<void>;
  close(): void;
}

function udtClients(engine: 'dgram' | 'native', port: number): ClientSet {
  const sockets: UdtSocket[] = [];
  let localPort: number | undefined;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ host: HOST, port, engine, localPort });
      s.once('connect', () => {
        localPort ??= s.localPort;
        resolve();
      });
      s.once('error', reject);
      sockets.push(s);
    });
  return {
    async grow(total) {
      if (sockets.length === 0) await open();
      while (sockets.length < total) await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, total - sockets.length) }, open));
    },
    close: () => sockets.forEach((s) => s.destroy()),
  };
}

function udxClients(port: number): ClientSet {
  const { udx, reason } = loadUdx();
  if (!udx) throw new Error(reason);
  const sock = udx.createSocket();
  sock.bind(0, HOST);
  const streams: UdxStream[] = [];
  const acked = new Set<number>();
  let wake: () => void = () => {};
  sock.on('message', (msg: Buffer) => {
    acked.add(Number(msg.toString()));
    wake();
  });
  return {
    async grow(total) {
      for (let i = streams.length; i < total; i++) {
        const st = udx.createStream(CLIENT_ID0 + i);
        st.connect(sock, SERVER_ID0 + i, port, HOST);
        st.on('error', () => {});
        streams.push(st);
      }
      const deadline = Date.now() + CONNECT_TIMEOUT_MS;
      // Announce every stream, and again those not confirmed yet (the announcements are plain datagrams).
      while (acked.size < total && Date.now() < deadline) {
        for (let i = 0; i < total; i++) if (!acked.has(SERVER_ID0 + i)) sock.trySend(Buffer.from(`${CLIENT_ID0 + i} ${SERVER_ID0 + i}`), port, HOST);
        await new Promise<void>((r) => {
          wake = () => acked.size >= total && r();
          setTimeout(r, 500);
        });
      }
      if (acked.size < total) throw new Error(`udx: only ${acked.size} of ${total} streams confirmed`);
    },
    close() {
      for (const st of streams) st.destroy();
      void sock.close();
    },
  };
}

async function runChild(role: string, kind: string, port: number, census: boolean): Promise<void> {
  if (role === 'server') {
    if (kind === 'udx') return udxServer(census);
    return udtServer(kind === 'udt-dgram' ? 'dgram' : 'native', census);
  }
  const clients = kind === 'udx' ? udxClients(port) : udtClients(kind === 'udt-dgram' ? 'dgram' : 'native', port);
  exitOnRequest(() => clients.close());
  process.on('message', (m: { op?: string; total?: number }) => {
    if (m.op !== 'grow') return;
    clients.grow(m.total!).then(
      () => process.send!({ connected: m.total }),
      (err: Error) => {
        console.error(`clients: ${err.message}`);
        process.exit(1);
      },
    );
  });
  process.send!({ ready: true });
}

// ---------- libudt (udtpeer) through /proc ----------

function procRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** libudt: udtpeer listens for n connections; two udtpeer clients open half each; RSS and CPU come from /proc. */
async function measureLibudt(n: number, settleMs: number): Promise<Measurement> {
  const hold = String(2 * settleMs + 120_000);
  const server = await spawnUdtPeer(['listen', '--host', HOST, '--port', '0', '--count', String(n), '--hold-ms', hold, '--max-time', '400'], { timeoutMs: 410_000 });
  const clients: UdtPeer[] = [];
  const connected = () => server.events.filter((e) => e.event === 'connected').length;
  const mem = (rss: number): Mem => ({ rss, heapUsed: NaN, heapTotal: NaN, external: NaN, arrayBuffers: NaN });
  const point = async (count: number): Promise<Point> => {
    const args = ['connect', '--host', HOST, '--port', String(port), '--count', String(count), '--hold-ms', hold, '--max-time', '400'];
    clients.push(await spawnUdtPeer(args, { timeoutMs: 410_000 }));
    const target = clients.length === 1 ? count : n;
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    while (connected() < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const cpu0 = procCpuMs(server.pid!);
    await new Promise((r) => setTimeout(r, settleMs));
    return { mem: mem(procRssBytes(server.pid!)), connections: connected(), idleCpuMs: procCpuMs(server.pid!) - cpu0, settleMs };
  };
  let port = 0;
  try {
    port = Number((await server.waitFor('listening', 10_000)).port);
    await new Promise((r) => setTimeout(r, 300));
    const before = mem(procRssBytes(server.pid!));
    const half = await point(Math.floor(n / 2));
    const all = await point(n - Math.floor(n / 2));
    return { before, half, all };
  } finally {
    for (const c of clients) c.kill('SIGKILL');
    server.kill('SIGKILL');
    await Promise.all([...clients.map((c) => c.exited), server.exited]);
  }
}

// ---------- the parent ----------

async function measureNode(kind: string, n: number, settleMs: number, census: boolean): Promise<Measurement> {
  const server = forkRole(SCRIPT, ['--role', 'server', '--kind', kind, ...(census ? ['--census'] : [])], { execArgv: ['--expose-gc'], timeoutMs: 60_000 });
  let client: ReturnType<typeof forkRole> | undefined;
  try {
    const { port, before } = (await server.first) as { port: number; before: Mem };
    client = forkRole(SCRIPT, ['--role', 'client', '--kind', kind, '--port', String(port)], { timeoutMs: 60_000 });
    await client.first;
    const at = async (total: number) => {
      await ask(client!.child, { op: 'grow', total }, CONNECT_TIMEOUT_MS);
      return ask<Point>(server.child, { op: 'measure', conns: total, settleMs }, CONNECT_TIMEOUT_MS + settleMs + 120_000);
    };
    const half = await at(Math.floor(n / 2));
    const all = await at(n);
    return { before, half, all };
  } finally {
    if (client) await stopChild(client.child);
    await stopChild(server.child);
  }
}

const LABELS: Record<string, string> = {
  'udt-dgram': 'udt, dgram engine',
  'udt-native': 'udt, native engine',
  udx: 'udx-native',
  libudt: 'libudt 4.11 (udtpeer)',
};

async function available(kind: string): Promise<string | undefined> {
  if (kind === 'udx') return loadUdx().reason;
  if (kind === 'libudt') {
    const s = libudtStatus();
    return s.available ? undefined : s.reason;
  }
  if (kind === 'udt-native') {
    const { loadNativeBinding } = await import('../../src/ts/engine/native-binding.js');
    const b = loadNativeBinding();
    return b.binding ? undefined : `native engine unavailable: ${b.reason}`;
  }
  return undefined;
}

const kB = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : 'n/a');
const perConn = (m: Measurement, f: (x: Mem) => number) => (f(m.all.mem) - f(m.before)) / m.all.connections;
const marginal = (m: Measurement, f: (x: Mem) => number) => (f(m.all.mem) - f(m.half.mem)) / (m.all.connections - m.half.connections);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      conns: { type: 'string', default: '1000' },
      'settle-ms': { type: 'string', default: '3000' },
      only: { type: 'string' },
      top: { type: 'string', default: '15' },
      census: { type: 'boolean', default: true },
      'no-census': { type: 'boolean', default: false },
      'libudt-conns': { type: 'string', default: '200' },
      role: { type: 'string' },
      kind: { type: 'string' },
      port: { type: 'string' },
    },
  });
  const n = Number(values.conns);
  const settleMs = Number(values['settle-ms']);
  // udtpeer runs a thread per connection: 1000 of them load a 2-core machine for everyone, so libudt gets fewer.
  const libudtConns = Number(values['libudt-conns']);
  if (values['no-census']) values.census = false;
  if (values.role) return runChild(values.role, values.kind!, Number(values.port), process.argv.includes('--census'));

  const kinds = values.only ? values.only.split(',') : ['udt-dgram', 'udt-native', 'udx', 'libudt'];
  const loadBefore = loadAverage();
  const results: Array<{ kind: string; m: Measurement }> = [];
  const skipped: string[] = [];
  for (const kind of kinds) {
    const why = await available(kind);
    if (why) {
      skipped.push(`${LABELS[kind] ?? kind}: ${why}`);
      continue;
    }
    const m = kind === 'libudt' ? await measureLibudt(Math.min(n, libudtConns), settleMs) : await measureNode(kind, n, settleMs, false);
    // The heap census (a snapshot parsed in the server) leaves malloc'd memory behind, so it runs in a second server.
    if (kind.startsWith('udt') && values.census) m.all.heapGrowth = (await measureNode(kind, n, settleMs, true)).all.heapGrowth;
    console.error(`${kind}: ${m.all.connections} connections, ${kB(perConn(m, (x) => x.rss))} kB RSS, ${kB(perConn(m, (x) => x.heapUsed))} kB heap per connection`);
    results.push({ kind, m });
  }

  console.log(`<!-- node --import tsx bench/scale/idle-memory.ts --conns ${n} --settle-ms ${settleMs}${values.only ? ` --only ${values.only}` : ''} -->`);
  console.log(`<!-- ${machineFacts()}; load average before ${loadBefore}, after ${loadAverage()} -->`);
  console.log('');
  console.log(
    `Server memory per idle connection: ${n} connections from one client process (one local port) to one server port; the server collects ` +
      `garbage and measures before any connection, with ${Math.floor(n / 2)} and with all ${n} (each ${settleMs / 1000} s after the last connected). ` +
      `"all" = (with ${n} − before) / ${n}; "marginal" = (with ${n} − with ${Math.floor(n / 2)}) / ${n - Math.floor(n / 2)}, which leaves out one-off costs (JIT code, heap growth).`,
  );
  console.log('');
  console.log('| server | connections | RSS per conn (all / marginal) | V8 heap used per conn (all / marginal) | V8 heap committed per conn (marginal) | ArrayBuffers per conn (marginal) | server CPU while idle | datagrams/s while idle (sent / received) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const { kind, m } of results) {
    const d = m.all.idleDatagrams;
    const idle = d ? `${((d.sent * 1000) / settleMs).toFixed(0)} / ${((d.received * 1000) / settleMs).toFixed(0)}` : 'n/a';
    const pair = (f: (x: Mem) => number) => `${kB(perConn(m, f))} / ${kB(marginal(m, f))} kB`;
    console.log(
      `| ${LABELS[kind] ?? kind} | ${m.all.connections} | ${pair((x) => x.rss)} | ${pair((x) => x.heapUsed)} | ${kB(marginal(m, (x) => x.heapTotal))} kB | ${kB(marginal(m, (x) => x.arrayBuffers))} kB | ` +
        `${((m.all.idleCpuMs / settleMs) * 100).toFixed(1)}% | ${idle} |`,
    );
  }
  const top = Number(values.top);
  for (const { kind, m } of results) {
    const rows = m.all.heapGrowth;
    if (!rows) continue;
    const added = m.all.connections - m.half.connections;
    console.log('');
    console.log(`Heap snapshot growth per added idle connection (${m.half.connections} → ${m.all.connections}), ${LABELS[kind] ?? kind}; self sizes, ArrayBuffer contents count under ArrayBuffers above:`);
    console.log('');
    console.log('| what | objects per conn | bytes per conn |');
    console.log('|---|---:|---:|');
    for (const r of rows.slice(0, top)) console.log(`| ${r.key.replace(/\|/g, '\\|')} | ${(r.count / added).toFixed(2)} | ${(r.bytes / added).toFixed(0)} |`);
    const total = rows.reduce((a, r) => a + r.bytes, 0);
    console.log(`| (all kinds) | | ${(total / added).toFixed(0)} |`);
  }
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

