// nodepeer: our library as a separate process (killable, CPU-measurable), speaking udtpeer's JSON-lines events.
//
// Usage (run with `node --import tsx`):
//   nodepeer.ts listen  --port P [--host ADDR] [options] [direction]
//   nodepeer.ts connect --host H --port P [options] [direction]
// options:   --mss N  --idle-timeout MS  --engine auto|native|dgram  --max-bw BYTES_PER_S  --max-time SEC
// direction: --send-bytes N (pseudo-random stream, ended by end())  --discard  --expect-bytes N
//            --hold  (keep the connection open after the work until the peer closes or the process is killed)
// events:    listening {port}, connected, done {bytesSent, bytesRecv, elapsedMs, stats, cpu}, error {code, message}
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { connect, createServer, type UdtSocket } from '../../../src/ts/api/index.js';
import type { EngineChoice } from '../../../src/ts/api/options.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    mss: { type: 'string' },
    'idle-timeout': { type: 'string' },
    engine: { type: 'string', default: 'auto' },
    'max-bw': { type: 'string' },
    'max-time': { type: 'string', default: '120' },
    'send-bytes': { type: 'string' },
    discard: { type: 'boolean', default: false },
    'expect-bytes': { type: 'string' },
    hold: { type: 'boolean', default: false },
  },
});

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const fail = (code: string | undefined, message: string, exitCode = 1): never => {
  say({ event: 'error', code, message });
  process.exit(exitCode);
};

const role = positionals[0];
if (role !== 'listen' && role !== 'connect') fail('usage', 'first argument must be listen or connect', 2);
if (values.port === undefined) fail('usage', '--port is required', 2);
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const options = {
  mss: num(values.mss),
  idleTimeout: num(values['idle-timeout']),
  maxBandwidth: num(values['max-bw']),
  engine: values.engine as EngineChoice,
};
const sendBytes = num(values['send-bytes']) ?? 0;
const expectBytes = num(values['expect-bytes']);
const SEND_CHUNK = 256 * 1024;

setTimeout(() => fail('max-time', `--max-time of ${values['max-time']} s exceeded`, 4), Number(values['max-time']) * 1000).unref();

async function pump(s: UdtSocket): Promise<void> {
  const pattern = randomBytes(1 << 20);
  for (let off = 0; off < sendBytes; off += SEND_CHUNK) {
    const n = Math.min(SEND_CHUNK, sendBytes - off);
    const start = off % pattern.length;
    const chunk = start + n <= pattern.length ? pattern.subarray(start, start + n) : randomBytes(n);
    if (!s.write(chunk)) await once(s, 'drain');
    if (s.destroyed) return;
  }
}

function serve(s: UdtSocket): void {
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const hash = createHash('sha256');
  let received = 0;
  let failed = false;
  say({ event: 'connected', peer: `${s.remoteAddress}:${s.remotePort}`, local: s.localPort, socketId: s.socketId });
  s.on('data', (d: Buffer) => {
    received += d.length;
    if (!values.discard) hash.update(d);
  });
  s.on('error', (e: Error & { code?: string }) => {
    failed = true;
    say({ event: 'error', code: e.code, message: e.message, bytesRecv: received, elapsedMs: performance.now() - started, stats: s.getStats({ clear: false }) });
    process.exitCode = 3;
  });
  s.on('close', () => {
    if (failed) process.exit();
    const cpu = process.cpuUsage(cpuAtStart);
    say({
      event: 'done',
      bytesSent: s.bytesWritten,
      bytesRecv: received,
      sha256: values.discard ? undefined : hash.digest('hex'),
      elapsedMs: performance.now() - started,
      stats: s.getStats({ clear: false }),
      cpu: { userMs: cpu.user / 1000, sysMs: cpu.system / 1000, maxRssKb: process.resourceUsage().maxRSS },
    });
    if (expectBytes !== undefined && received !== expectBytes) process.exitCode = 1;
    process.exit();
  });
  const work = sendBytes > 0 ? pump(s) : Promise.resolve();
  void work.then(() => {
    if (!values.hold && sendBytes > 0) s.end();
  });
}

if (role === 'listen') {
  const server = createServer(options, (s) => {
    server.close();
    serve(s);
  });
  server.on('error', (e: Error & { code?: string }) => fail(e.code, e.message));
  server.listen(Number(values.port), values.host, () => say({ event: 'listening', port: server.address()!.port }));
} else {
  const s = connect({ ...options, host: values.host, port: Number(values.port) });
  s.once('connect', () => serve(s));
  s.once('error', (e: Error & { code?: string }) => {
    if (s.remoteSocketId === undefined) fail(e.code, e.message);
  });
}
