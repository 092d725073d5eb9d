// Child process of the engine benchmarks: a counting sink or a 64-byte echo server on one engine (or raw node:dgram).

import dgram from 'node:dgram';
import type { Engine, RxBatch } from '../../src/ts/engine/engine.js';
import { type BenchKind, cpuSeconds, openEngine } from './engine-common.js';

const [mode, kind] = process.argv.slice(2) as ['sink' | 'echo', BenchKind];
let datagrams = 0;
let bytes = 0;
let cpu0 = 0;

function reply(port: number, close: () => Promise<void>): void {
  process.send!({ port } );
  process.on('message', async (m: { op: string }) => {
    if (m.op === 'reset') {
      datagrams = 0;
      bytes = 0;
      cpu0 = cpuSeconds();
      process.send!({ ok: true });
    } else if (m.op === 'report') {
      process.send!({ datagrams, bytes, cpu: cpuSeconds() - cpu0 });
    } else if (m.op === 'exit') {
      await close();
      process.exit(0);
    }
  });
}

async function runRaw(): Promise<void> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  s.on('message', (msg, r) => {
    datagrams++;
    bytes += msg.length;
    if (mode === 'echo') s.send(msg, r.port, r.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  reply(s.address().port, () => new Promise((r) => s.close(() => r())));
}

async function runEngine(k: Exclude<BenchKind, 'raw'>): Promise<void> {
  let engine: Engine;
  const onReceive = (b: RxBatch) => {
    datagrams += b.count;
    for (let i = 0; i < b.count; i++) bytes += b.lengths[i];
    if (mode !== 'echo') return;
    const t = engine.txReserve();
    if (!t) return;
    for (let i = 0; i < b.count && t.count < t.capacity; i++) {
      const n = t.count;
      b.buf.copy(t.buf, n * t.stride, b.offsets[i], b.offsets[i] + b.lengths[i]);
      t.lengths[n] = b.lengths[i];
      t.peers[n] = b.peers[i];
      t.sendAt[n] = 0;
      t.count++;
    }
    engine.txCommit(t);
  };
  const opened = await openEngine(k, { onReceive, onWritable() {}, onError: (e) => console.error(e) });
  engine = opened.engine;
  reply(opened.bound.port, () => engine.close());
}

if (kind === 'raw') await runRaw();
else await runEngine(kind);
