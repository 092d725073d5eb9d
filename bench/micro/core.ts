// Micro-benchmarks of the sans-I/O core with the `benchmark` package: codec, loss lists, per-packet send and receive.
// Run: npm run bench:micro   (node --import tsx bench/micro/core.ts)

import Benchmark from 'benchmark';
import {
  Connection,
  createTransmitBuffer,
  decodePacket,
  Listener,
  LossList,
  msgWord,
  resolveConfig,
  writeAck,
  writeDataHeader,
  writeHandshake,
  type TransmitBuffer,
} from '../../src/ts/core/index.js';

const STRIDE = 1500;
const BATCH = 64;
const PAYLOAD = 1456;

/** A client and a server connection handshaken directly (no network), at virtual time `now`. */
function connectedPair(options: Parameters<typeof resolveConfig>[0] = {}): { client: Connection; server: Connection; now: number } {
  const cfg = resolveConfig({ seed: 7, ...options });
  const now = 1_000_000;
  const client = Connection.connect(cfg, { localSocketId: 11, isn: 1000, peerAddress: '127.0.0.1', now });
  const listener = new Listener({ sockType: 1, startTime: 0 });
  const out = createTransmitBuffer(8, STRIDE);
  let server: Connection | null = null;
  for (let round = 0; round < 4 && !server; round++) {
    out.count = 0;
    client.pollTransmit(now, out);
    const hs = decodePacket(out.buf, 0, out.lengths[0]);
    if (hs.kind !== 'handshake') throw new Error('expected a handshake');
    const dec = listener.handle(now, hs.hs, '127.0.0.1', 9000);
    if (dec.kind === 'reply') {
      const back = new Uint8Array(64);
      writeHandshake(back, 0, dec.dst, dec.response);
      client.handleDatagram(now, back, 0, 64);
    } else if (dec.kind === 'accept') {
      server = Connection.accept(cfg, { localSocketId: 22, peerAddress: '127.0.0.1', now }, dec.request);
      out.count = 0;
      server.pollTransmit(now, out);
      client.handleDatagram(now, out.buf, 0, out.lengths[0]);
    }
  }
  if (!server || client.state !== 'connected') throw new Error('handshake did not complete');
  return { client, server, now };
}

/** `n` in-order data datagrams for the server, starting at the client's ISN. */
function dataDatagrams(n: number, isn: number, dst: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const d = new Uint8Array(16 + PAYLOAD);
    writeDataHeader(d, 0, isn + i, msgWord(0, false, 1), 0, dst);
    return d;
  });
}

function drain(conn: Connection, now: number, out: TransmitBuffer): void {
  do {
    out.count = 0;
    conn.pollTransmit(now, out);
  } while (out.count === out.capacity);
}

const suite = new Benchmark.Suite('udt core');
const results: Array<{ name: string; nsPerOp: number; rme: number }> = [];

// Codec.
const ackBytes = new Uint8Array(40);
writeAck(ackBytes, 0, 22, 5, 123_456, 100_000, 50_000, 8191, 8000, 9000);
const nakBytes = new Uint8Array(24);
nakBytes.set([0x80, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22, 0xd5, 0xc8, 0xeb, 0x4d, 0x55, 0xc8, 0xeb, 0x4f]);
const scratch = new Uint8Array(64);
suite.add('decode full ACK (40 B)', () => decodePacket(ackBytes, 0, 40));
suite.add('decode NAK range (24 B)', () => decodePacket(nakBytes, 0, 24));
suite.add('encode full ACK', () => writeAck(scratch, 0, 22, 5, 123_456, 100_000, 50_000, 8191, 8000, 9000));
suite.add('encode data header', () => writeDataHeader(scratch, 0, 123_456, msgWord(3, false, 9), 777, 22));

// Loss lists: the receiver appends gaps and fills them; the sender inserts NAK ranges and pops.
suite.add('loss list: append gap, fill it (receiver)', () => {
  const l = new LossList();
  for (let i = 0; i < 64; i++) l.insert(i * 10, i * 10 + 2);
  for (let i = 0; i < 64; i++) l.remove(i * 10 + 1);
  for (let i = 0; i < 64; i++) l.removeRange(i * 10, i * 10 + 2);
});
suite.add('loss list: insert 64 ranges, pop all (sender)', () => {
  const l = new LossList();
  for (let i = 63; i >= 0; i--) l.insert(i * 10, i * 10 + 2);
  while (l.popFirst() >= 0);
});

// Per packet in the core: the receiver taking in-order data (and producing ACKs), and the sender writing packets.
const PER_RUN = 4096;
{
  const pair = connectedPair();
  const packets = dataDatagrams(PER_RUN, 1000, 22);
  const out = createTransmitBuffer(BATCH, STRIDE);
  let seq = 1000;
  suite.add(`receive ${PER_RUN} in-order data packets (+ read, ACKs)`, () => {
    let t = pair.now;
    for (let i = 0; i < PER_RUN; i++) {
      t += 1;
      const d = packets[i];
      writeDataHeader(d, 0, seq++, msgWord(0, false, 1), 0, 22);
      pair.server.handleDatagram(t, d, 0, d.length, true);
      if ((i & 63) === 63) {
        while (pair.server.read());
        drain(pair.server, t, out);
      }
    }
    pair.now = t;
  });
}
{
  // A fixed rate far above what is sent keeps congestion control out of the measurement.
  const pair = connectedPair({ congestion: 'fixed', maxBandwidth: 1e12 });
  const out = createTransmitBuffer(BATCH, STRIDE);
  const chunk = new Uint8Array(PAYLOAD * 64);
  const sender = pair.client.sender!;
  const ack = new Uint8Array(40);
  suite.add(`send ${PER_RUN} data packets (write + pollTransmit, ACK every 64)`, () => {
    let t = pair.now;
    for (let i = 0; i < PER_RUN / 64; i++) {
      if (pair.client.write(chunk, t) !== chunk.length) throw new Error('send buffer full: the benchmark is not sending');
      t += 1000;
      drain(pair.client, t, out);
      // Acknowledge what was sent so the buffer stays small.
      writeAck(ack, 0, 11, (i % 1000) + 1, (sender.sndCurr + 1) & 0x7fffffff, 1000, 500, 8191, 0, 0);
      pair.client.handleDatagram(t, ack, 0, 40);
    }
    pair.now = t;
  });
}

suite
  .on('cycle', (ev: Benchmark.Event) => {
    const b = ev.target as Benchmark.Target & { name: string; stats: { mean: number; rme: number } };
    const perOp = b.stats.mean * 1e9;
    const packets = /(\d+) (in-order )?data packets/.exec(b.name);
    const n = packets ? Number(packets[1]) : 1;
    results.push({ name: b.name, nsPerOp: perOp / n, rme: b.stats.rme });
    console.log(`${b.name}: ${(perOp / n).toFixed(0)} ns${n > 1 ? ' per packet' : ' per op'} ±${b.stats.rme.toFixed(1)}%`);
  })
  .on('complete', () => {
    console.log('\n| operation | ns per op (per packet for the last two) | ± |');
    console.log('|---|---:|---:|');
    for (const r of results) console.log(`| ${r.name} | ${r.nsPerOp.toFixed(0)} | ${r.rme.toFixed(1)}% |`);
  })
  .run({ async: false });
