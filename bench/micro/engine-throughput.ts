// Loopback throughput of 1472-byte datagrams: raw node:dgram vs the dgram engine vs the native engine (per send path).
// Usage: node --import tsx bench/micro/engine-throughput.ts [seconds=2] [runs=3]

import dgram from 'node:dgram';
import type { Engine } from '../../src/ts/engine/engine.js';
import { ask, availableKinds, type BenchKind, cpuSeconds, median, openEngine, startPeer } from './engine-common.js';

const SIZE = 1472;
const seconds = Number(process.argv[2] ?? 2);
const runs = Number(process.argv[3] ?? 3);

interface RunResult {
  sent: number;
  received: number;
  secs: number;
  senderCpu: number;
  receiverCpu: number;
  sendPath: string;
  sendCalls: number;
}

async function sendRaw(port: number, until: number): Promise<Omit<RunResult, 'received' | 'receiverCpu'>> {
  const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 << 20 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const payload = Buffer.alloc(SIZE, 1);
  let sent = 0;
  let outstanding = 0;
  const t0 = performance.now();
  const c0 = cpuSeconds();
  await new Promise<void>((done) => {
    const onSent = () => {
      outstanding--;
      if (outstanding === 256) setImmediate(pump);
      if (outstanding === 0 && performance.now() >= until) done();
    };
    const pump = () => {
      if (performance.now() >= until) {
        if (outstanding === 0) done();
        return;
      }
      while (outstanding < 512) {
        s.send(payload, 0, SIZE, port, '127.0.0.1', onSent);
        outstanding++;
        sent++;
      }
    };
    pump();
  });
  const secs = (performance.now() - t0) / 1000;
  const senderCpu = cpuSeconds() - c0;
  await new Promise<void>((r) => s.close(() => r()));
  return { sent, secs, senderCpu, sendPath: 'dgram', sendCalls: sent };
}

async function sendEngine(kind: Exclude<BenchKind, 'raw'>, port: number, until: number): Promise<Omit<RunResult, 'received' | 'receiverCpu'>> {
  let wake: (() => void) | null = null;
  const { engine } = await openEngine(kind, { onReceive() {}, onWritable: () => wake?.(), onError: (e) => console.error(e) });
  const peer = engine.peer('127.0.0.1', port);
  let sent = 0;
  const t0 = performance.now();
  const c0 = cpuSeconds();
  while (performance.now() < until) {
    const b = engine.txReserve();
    if (!b) {
      await new Promise<void>((r) => (wake = r));
      wake = null;
      continue;
    }
    const n = b.capacity;
    for (let i = 0; i < n; i++) {
      b.lengths[i] = SIZE;
      b.peers[i] = peer;
      b.sendAt[i] = 0;
    }
    b.count = n;
    engine.txCommit(b);
    sent += n;
  }
  await engine.close();
  const secs = (performance.now() - t0) / 1000;
  const s = engine.stats();
  const gso = (s as { gsoCalls?: number }).gsoCalls ? 'gso' : s.sendPath === 'gso' ? 'sendmmsg' : s.sendPath;
  return { sent: s.datagramsSent, secs, senderCpu: cpuSeconds() - c0, sendPath: gso, sendCalls: s.sendCalls };
}

async function once(kind: BenchKind): Promise<RunResult> {
  const { child, port } = await startPeer('sink', kind);
  await ask(child, { op: 'reset' });
  const until = performance.now() + seconds * 1000;
  const r = kind === 'raw' ? await sendRaw(port, until) : await sendEngine(kind, port, until);
  await new Promise((res) => setTimeout(res, 100));
  const rep = await ask<{ datagrams: number; cpu: number }>(child, { op: 'report' });
  child.send({ op: 'exit' });
  await new Promise((res) => child.once('exit', res));
  return { ...r, received: rep.datagrams, receiverCpu: rep.cpu };
}

const kinds = availableKinds(['raw', 'dgram', 'native', 'native-gso', 'native-sendmmsg', 'native-sendmsg']);
console.log(`loopback, ${SIZE}-byte datagrams, ${seconds} s per run, median of ${runs} runs; sender and receiver in separate processes`);
console.log('kind              path       sent dg/s   recv dg/s   recv Gbit/s  loss %  dg/send call  sender CPU s/GB  receiver CPU s/GB');
for (const kind of kinds) {
  const rs: RunResult[] = [];
  for (let i = 0; i < runs; i++) rs.push(await once(kind));
  const gb = (r: RunResult) => (r.received * SIZE) / 1e9;
  const row = {
    sent: median(rs.map((r) => r.sent / r.secs)),
    recv: median(rs.map((r) => r.received / r.secs)),
    gbit: median(rs.map((r) => (r.received * SIZE * 8) / r.secs / 1e9)),
    loss: median(rs.map((r) => (100 * (r.sent - r.received)) / Math.max(1, r.sent))),
    perCall: median(rs.map((r) => r.sent / Math.max(1, r.sendCalls))),
    scpu: median(rs.map((r) => r.senderCpu / Math.max(1e-9, gb(r)))),
    rcpu: median(rs.map((r) => r.receiverCpu / Math.max(1e-9, gb(r)))),
  };
  console.log(
    `${kind.padEnd(17)} ${rs[0].sendPath.padEnd(9)} ${row.sent.toFixed(0).padStart(10)}  ${row.recv.toFixed(0).padStart(10)}  ${row.gbit.toFixed(2).padStart(11)}  ${row.loss.toFixed(1).padStart(6)}  ${row.perCall.toFixed(1).padStart(12)}  ${row.scpu.toFixed(2).padStart(15)}  ${row.rcpu.toFixed(2).padStart(17)}`,
  );
}
