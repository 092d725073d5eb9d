// 64-byte request/response round trips on loopback: raw node:dgram vs the dgram engine vs the native engine.
// Usage: node --import tsx bench/micro/engine-latency.ts [roundTrips=5000] [runs=3]

import dgram from 'node:dgram';
import { nowUs } from '../../src/ts/endpoint/clock.js';
import type { Engine, RxBatch } from '../../src/ts/engine/engine.js';
import type { NativeEngineStats } from '../../src/ts/engine/native-engine.js';
import { availableKinds, type BenchKind, median, openEngine, percentile, startPeer } from './engine-common.js';

const SIZE = 64;
const trips = Number(process.argv[2] ?? 5000);
const runs = Number(process.argv[3] ?? 3);
const WARMUP = 300;
const TIME_LIMIT_MS = 15_000;

async function pingRaw(port: number): Promise<number[]> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const payload = Buffer.alloc(SIZE, 7);
  const rtts: number[] = [];
  const deadline = Date.now() + TIME_LIMIT_MS;
  await new Promise<void>((done) => {
    let t = 0;
    let n = 0;
    s.on('message', () => {
      if (n++ >= WARMUP) rtts.push(nowUs() - t);
      if (rtts.length >= trips || Date.now() > deadline) return done();
      t = nowUs();
      s.send(payload, port, '127.0.0.1');
    });
    t = nowUs();
    s.send(payload, port, '127.0.0.1');
  });
  await new Promise<void>((r) => s.close(() => r()));
  return rtts;
}

async function pingEngine(kind: Exclude<BenchKind, 'raw'>, port: number): Promise<{ rtts: number[]; note: string }> {
  const rtts: number[] = [];
  const deadline = Date.now() + TIME_LIMIT_MS;
  let engine: Engine;
  let peer = 0;
  let t = 0;
  let n = 0;
  let done: () => void = () => {};
  const ping = () => {
    const b = engine.txReserve()!;
    b.buf.fill(7, 0, SIZE);
    b.lengths[0] = SIZE;
    b.peers[0] = peer;
    b.sendAt[0] = 0;
    b.count = 1;
    t = nowUs();
    engine.txCommit(b);
  };
  const onReceive = (_b: RxBatch) => {
    if (n++ >= WARMUP) rtts.push(nowUs() - t);
    if (rtts.length >= trips || Date.now() > deadline) return done();
    ping();
  };
  const opened = await openEngine(kind, { onReceive, onWritable() {}, onError: (e) => console.error(e) });
  engine = opened.engine;
  peer = engine.peer('127.0.0.1', port);
  await new Promise<void>((r) => {
    done = r;
    ping();
  });
  const s = engine.stats() as Partial<NativeEngineStats>;
  await engine.close();
  return { rtts, note: s.inlineSent !== undefined ? `${s.sendPath}, ${s.inlineSent} of ${s.datagramsSent} sent inline` : `${s.sendPath}` };
}

const kinds = availableKinds(['raw', 'dgram', 'native', 'native-gso']);
console.log(`loopback ${SIZE}-byte ping-pong, both ends the same kind in separate processes, ${trips} round trips, median of ${runs} runs`);
console.log('kind     p50 µs  p90 µs  p99 µs  p99.9 µs  max µs  notes');
for (const kind of kinds) {
  const p50: number[] = [];
  const p90: number[] = [];
  const p99: number[] = [];
  const p999: number[] = [];
  const mx: number[] = [];
  let note = '';
  for (let i = 0; i < runs; i++) {
    const { child, port } = await startPeer('echo', kind);
    let rtts: number[];
    if (kind === 'raw') rtts = await pingRaw(port);
    else ({ rtts, note } = await pingEngine(kind, port));
    child.send({ op: 'exit' });
    await new Promise((res) => child.once('exit', res));
    rtts.sort((a, b) => a - b);
    p50.push(percentile(rtts, 50));
    p90.push(percentile(rtts, 90));
    p99.push(percentile(rtts, 99));
    p999.push(percentile(rtts, 99.9));
    mx.push(rtts[rtts.length - 1]);
  }
  const f = (xs: number[]) => median(xs).toFixed(0).padStart(6);
  console.log(`${kind.padEnd(7)} ${f(p50)}  ${f(p90)}  ${f(p99)}  ${f(p999).padStart(8)}  ${f(mx)}  ${note}`);
}
