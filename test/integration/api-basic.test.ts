// Public API on real sockets: stream transfer with backpressure, message mode, graceful end, errors.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { connect, createServer, type UdtSocket } from '../../src/ts/api/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function collect(s: UdtSocket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

describe('api: stream mode on 127.0.0.1', () => {
  it('moves 32 MB client → server with end() and equal SHA-256', async () => {
    const data = randomBytes(32 * 1024 * 1024);
    const server = createServer();
    const received = new Promise<Buffer>((resolve, reject) => server.on('connection', (s) => collect(s).then(resolve, reject)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect({ host: '127.0.0.1', port: server.address()!.port });
    await once(client, 'connect');
    let falseWrites = 0;
    for (let off = 0; off < data.length; off += 256 * 1024) {
      if (!client.write(data.subarray(off, off + 256 * 1024))) {
        falseWrites++;
        await once(client, 'drain');
      }
    }
    const closed = once(client, 'close');
    client.end();
    const got = await received;
    expect(got.length).toBe(data.length);
    expect(sha(got)).toBe(sha(data));
    expect(falseWrites).toBeGreaterThan(0);
    await closed;
    const stats = client.getStats();
    expect(stats.pktSentTotal).toBeGreaterThanOrEqual(Math.ceil(data.length / 1456));
    server.close();
  });

  it('server replies: request/response in both directions', async () => {
    const server = createServer((s) => s.on('data', (d: Buffer) => s.write(Buffer.from(d.toString().toUpperCase()))));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect({ host: '127.0.0.1', port: server.address()!.port });
    await once(client, 'connect');
    client.write('hello udt');
    const [reply] = await once(client, 'data');
    expect(reply.toString()).toBe('HELLO UDT');
    client.destroy();
    server.closeAllConnections();
    server.close();
  });
});

describe('api: message mode', () => {
  it('keeps message boundaries', async () => {
    const sizes = [1, 100, 1456, 1457, 5000, 100_000, 1_000_000];
    const msgs = sizes.map((n) => randomBytes(n));
    const server = createServer({ mode: 'message' });
    const got = new Promise<Buffer[]>((resolve) => server.on('connection', (s) => {
      const out: Buffer[] = [];
      s.on('message', (m: Buffer) => {
        out.push(m);
        if (out.length === msgs.length) resolve(out);
      });
    }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect({ host: '127.0.0.1', port: server.address()!.port, mode: 'message' });
    await once(client, 'connect');
    for (const m of msgs) client.sendMessage(m);
    const out = await got;
    expect(out.map((b) => b.length)).toEqual(sizes);
    out.forEach((b, i) => expect(sha(b)).toBe(sha(msgs[i])));
    client.destroy();
    server.closeAllConnections();
    server.close();
  });
});
