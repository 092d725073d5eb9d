// UDP probe for checking linkem from inside its namespaces: paced numbered sends, a counting sink with one-way delays, echo and RTT.
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';

const HEADER = 16;
const IP_UDP_OVERHEAD = 28;
const nowNs = (): bigint => process.hrtime.bigint();

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '7000' },
    rate: { type: 'string', default: '1e6' },
    size: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '1' },
    count: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '10' },
    'idle-ms': { type: 'string', default: '1000' },
  },
});

const port = Number(values.port);
const seconds = Number(values.seconds);
const size = Math.max(HEADER, Number(values.size));

function print(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function bound(sock: Socket): Promise<void> {
  return new Promise((resolve) => sock.bind(port, '0.0.0.0', () => resolve()));
}

/** Sends numbered datagrams (seq, send time) paced to --rate IP bits/s in 1 ms bursts for --seconds; prints what it sent. */
async function blast(): Promise<void> {
  const sock = createSocket('udp4');
  const ipBits = (size + IP_UDP_OVERHEAD) * 8;
  const total = Math.floor((Number(values.rate) * seconds) / ipBits);
  const gapNs = BigInt(Math.round((ipBits / Number(values.rate)) * 1e9));
  const start = nowNs();
  let sent = 0;
  let errors = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const now = nowNs();
      while (sent < total && start + BigInt(sent) * gapNs <= now) {
        const buf = Buffer.alloc(size);
        buf.writeUInt32BE(sent, 0);
        buf.writeBigUInt64BE(nowNs(), 8);
        sock.send(buf, Number(values.port), values.host, (err) => err && errors++);
        sent++;
      }
      if (sent < total) setTimeout(step, 1);
      else resolve();
    };
    step();
  });
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
  print({ mode: 'blast', sent, bytes: sent * size, ipBytes: sent * (size + IP_UDP_OVERHEAD), errors });
}

/** Counts numbered datagrams until --idle-ms of silence after the first, or --seconds. */
async function sink(): Promise<void> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const seen = new Uint8Array(1 << 22);
  let received = 0, bytes = 0, duplicates = 0, reordered = 0, maxSeq = -1, firstNs = 0n, lastNs = 0n;
  const owds = new Float64Array(1 << 20);
  let idle: NodeJS.Timeout | undefined;
  await bound(sock);
  print({ mode: 'sink', listening: port });
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, seconds * 1000);
    sock.on('message', (msg) => {
      const at = nowNs();
      if (msg.length < HEADER) return;
      const seq = msg.readUInt32BE(0);
      const owdMs = Number(at - msg.readBigUInt64BE(8)) / 1e6;
      if (!received) firstNs = at;
      lastNs = at;
      received++;
      bytes += msg.length;
      if (seq < seen.length && seen[seq]) duplicates++;
      else if (seq < maxSeq) reordered++;
      if (seq < seen.length) seen[seq] = 1;
      maxSeq = Math.max(maxSeq, seq);
      if (received <= owds.length) owds[received - 1] = owdMs;
      clearTimeout(idle);
      idle = setTimeout(() => {
        clearTimeout(deadline);
        resolve();
      }, Number(values['idle-ms']));
    });
  });
  clearTimeout(idle);
  sock.close();
  let lost = 0, lossBursts = 0;
  for (let i = 0; i <= Math.min(maxSeq, seen.length - 1); i++) {
    if (seen[i]) continue;
    lost++;
    if (i === 0 || seen[i - 1]) lossBursts++;
  }
  const spanS = Number(lastNs - firstNs) / 1e9;
  const sorted = owds.slice(0, Math.min(received, owds.length)).sort();
  const q = (x: number): number | null => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))]! : null);
  print({
    mode: 'sink', received, bytes, ipBytes: bytes + received * IP_UDP_OVERHEAD, duplicates, reordered, lost, lossBursts, spanS,
    owdMinMs: q(0), owdP05Ms: q(0.05), owdP50Ms: q(0.5), owdP99Ms: q(0.99), owdMaxMs: q(1),
  });
}

/** Sends every datagram back to where it came from for --seconds. */
async function echo(): Promise<void> {
  const sock = createSocket('udp4');
  await bound(sock);
  print({ mode: 'echo', listening: port });
  let echoed = 0;
  sock.on('message', (msg, from) => {
    echoed++;
    sock.send(msg, from.port, from.address);
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  sock.close();
  print({ mode: 'echo', echoed });
}

/** Sends --count probes --interval-ms apart to an echo and prints round-trip times. */
async function rtt(): Promise<void> {
  const sock = createSocket('udp4');
  const count = Number(values.count);
  const rtts: number[] = [];
  sock.on('message', (msg) => {
    if (msg.length >= HEADER) rtts.push(Number(nowNs() - msg.readBigUInt64BE(8)) / 1e6);
  });
  for (let i = 0; i < count; i++) {
    const buf = Buffer.alloc(size);
    buf.writeUInt32BE(i, 0);
    buf.writeBigUInt64BE(nowNs(), 8);
    sock.send(buf, Number(values.port), values.host);
    await new Promise((r) => setTimeout(r, Number(values['interval-ms'])));
  }
  await new Promise((r) => setTimeout(r, Number(values['idle-ms'])));
  sock.close();
  const sorted = [...rtts].sort((a, b) => a - b);
  print({
    mode: 'rtt', sent: count, received: rtts.length,
    minMs: sorted[0] ?? null, p25Ms: sorted[sorted.length >> 2] ?? null, medianMs: sorted[sorted.length >> 1] ?? null,
    maxMs: sorted.at(-1) ?? null,
  });
}

const modes: Record<string, () => Promise<void>> = { blast, sink, echo, rtt };
const run = modes[positionals[0] ?? ''];
if (!run) {
  process.stderr.write(`usage: probe.ts blast|sink|echo|rtt [--host H] [--port P] [--rate BPS] [--size B] [--seconds S] ...\n`);
  process.exit(2);
}
await run();
