// A UDT peer in its own process (run with `node --import tsx`), so tests can kill it: JSON lines on stdout.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect, createServer, type UdtSocket } from '../../src/ts/api/index.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    send: { type: 'string', default: '0' },
    'idle-timeout': { type: 'string', default: '10000' },
  },
});

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const sendBytes = Number(values.send);
const idleTimeout = Number(values['idle-timeout']);

function serve(s: UdtSocket): void {
  const h = createHash('sha256');
  let n = 0;
  s.on('data', (d: Buffer) => {
    n += d.length;
    h.update(d);
  });
  s.on('error', (e: Error & { code?: string }) => say({ event: 'error', code: e.code, message: e.message }));
  s.on('end', () => say({ event: 'end', bytes: n, sha256: h.digest('hex') }));
  if (sendBytes > 0) pump(s, sendBytes);
}

function pump(s: UdtSocket, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sent = 0;
  const go = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!s.write(chunk)) return void s.once('drain', go);
    }
  };
  go();
}

if (values.role === 'server') {
  const server = createServer({ idleTimeout }, serve);
  server.listen(Number(values.port), values.host, () => say({ event: 'listening', port: server.address()!.port }));
} else {
  const s = connect({ host: values.host, port: Number(values.port), idleTimeout }, () => say({ event: 'connected' }));
  serve(s);
}
