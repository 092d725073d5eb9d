// Real-socket robustness: many connections on one port, closed ports, dead peers, garbage, IPv6, rendezvous, bad input.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, UdtSocket, type UdtServer } from '../../src/ts/api/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const childScript = fileURLToPath(new URL('../support/udt-child.ts', import.meta.url));
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function listening(server: UdtServer, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return server.address()!.port;
}

/** Server side of a tiny request protocol: 4-byte length, payload; answers with the payload's SHA-256. */
function digestServer(s: UdtSocket): void {
  const parts: Buffer[] = [];
  let have = 0;
  s.on('data', (d: Buffer) => {
    parts.push(d);
    have += d.length;
    const all = Buffer.concat(parts);
    if (have >= 4 && have >= 4 + all.readUInt32BE(0)) s.write(sha(all.subarray(4, 4 + all.readUInt32BE(0))));
  });
  s.on('error', () => {});
}

function request(data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  return Buffer.concat([head, data]);
}

function readAll(s: UdtSocket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

interface Child {
  proc: ChildProcess;
  events: Array<Record<string, unknown>>;
  waitFor(event: string, ms: number): Promise<Record<string, unknown>>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    events.push(JSON.parse(line));
    waiters.splice(0).forEach((w) => w());
  });
  return {
    proc,
    events,
    waitFor(event, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child: no '${event}' within ${ms} ms; saw ${JSON.stringify(events)}`)), ms);
        const check = () => {
          const hit = events.find((e) => e.event === event);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

describe('many connections on one port', () => {
  it('serves 100 simultaneous clients, each checked', async () => {
    const server = createServer(digestServer);
    const port = await listening(server);
    const clients = Array.from({ length: 100 }, async (_, i) => {
      const data = randomBytes(64 * 1024 + i * 997);
      const c = connect({ host: '127.0.0.1', port });
      await once(c, 'connect');
      c.write(request(data));
      const [reply] = await once(c, 'data');
      expect(reply.toString()).toBe(sha(data));
      c.destroy();
      return true;
    });
    const results = await Promise.all(clients.map((p) => p.catch((e) => e)));
    expect(results.filter((r) => r !== true)).toEqual([]);
  }, 60_000);
});

describe('failures surface as typed errors', () => {
  it('connecting to a closed port fails with ERR_UDT_CONNECT_TIMEOUT within the timeout', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const port = probe.address().port;
    probe.close();
    const t0 = Date.now();
    const c = connect({ host: '127.0.0.1', port, timeout: 1000 });
    const [err] = await once(c, 'error');
    const ms = Date.now() - t0;
    expect(err.code).toBe('ERR_UDT_CONNECT_TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3000);
  });

  it('a killed receiver is detected by the sender as ERR_UDT_PEER_DEAD within the idle timeout', async () => {
    const child = startChild(['--role', 'server', '--idle-timeout', '3000']);
    const { port } = (await child.waitFor('listening', 15_000)) as { port: number };
    const c = connect({ host: '127.0.0.1', port, idleTimeout: 2000 });
    await once(c, 'connect');
    const chunk = Buffer.alloc(64 * 1024);
    const pump = () => {
      while (c.writable && c.write(chunk));
    };
    c.on('drain', pump);
    pump();
    await new Promise((r) => setTimeout(r, 300));
    child.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const [err] = await once(c, 'error');
    const ms = Date.now() - killedAt;
    expect(err.code).toBe('ERR_UDT_PEER_DEAD');
    expect(ms).toBeLessThan(2000 + 1500);
  }, 30_000);

  it('a killed sender is detected by the receiver as ERR_UDT_PEER_DEAD', async () => {
    let accepted!: UdtSocket;
    const server = createServer({ idleTimeout: 2000 }, (s) => {
      accepted = s;
      s.resume();
    });
    const port = await listening(server);
    const child = startChild(['--role', 'client', '--port', String(port), '--send', String(1 << 30)]);
    await child.waitFor('connected', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const errored = once(accepted, 'error');
    child.proc.kill('SIGKILL');
    const [err] = await errored;
    expect(err.code).toBe('ERR_UDT_PEER_DEAD');
  }, 30_000);

  it('bad options throw ERR_UDT_INVALID_ARG synchronously', () => {
    expect(() => connect({ host: '127.0.0.1', port: 0 })).toThrow(expect.objectContaining({ code: 'ERR_UDT_INVALID_ARG' }));
    expect(() => new UdtSocket({ mss: 20 })).toThrow(expect.objectContaining({ code: 'ERR_UDT_INVALID_ARG' }));
    expect(() => createServer({ flowWindow: 3 })).toThrow(expect.objectContaining({ code: 'ERR_UDT_INVALID_ARG' }));
    expect(() => new UdtSocket({ congestion: 'fixed' })).toThrow(expect.objectContaining({ code: 'ERR_UDT_INVALID_ARG' }));
    expect(() => new UdtSocket().sendMessage(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_UDT_INVALID_OP' }));
  });

  it('an AbortSignal aborts a pending connect', async () => {
    const ac = new AbortController();
    const c = connect({ host: '127.0.0.1', port: 9, signal: ac.signal, timeout: 5000 });
    setTimeout(() => ac.abort(), 50);
    const [err] = await once(c, 'error');
    expect(err.code).toBe('ERR_UDT_ABORTED');
  });
});

describe('garbage at a listening port', () => {
  it('counts and drops malformed datagrams; a real client still connects and transfers', async () => {
    const server = createServer(digestServer);
    const port = await listening(server);
    const junk = dgram.createSocket('udp4');
    cleanups.push(() => junk.close());
    const sizes = [0, 1, 15, 16, 17, 20, 63, 64, 65, 1500];
    let sent = 0;
    for (let round = 0; round < 50; round++) {
      for (const n of sizes) {
        const d = randomBytes(n);
        if (round % 2 === 0 && n >= 16) d.writeUInt32BE(0, 12);
        if (round % 3 === 0 && n >= 16) d[0] |= 0x80;
        junk.send(d, port, '127.0.0.1');
        sent++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 200));
    const st = server.getStats()!;
    const dropped = st.malformed + st.unknownDestination + st.handshakesIgnored + st.wrongPeer;
    expect(dropped).toBeGreaterThan(sent * 0.9);
    const data = randomBytes(1 << 20);
    const c = connect({ host: '127.0.0.1', port });
    await once(c, 'connect');
    c.write(request(data));
    const [reply] = await once(c, 'data');
    expect(reply.toString()).toBe(sha(data));
    c.destroy();
  });
});

describe('IPv6 and rendezvous', () => {
  it('transfers over ::1', async () => {
    const data = randomBytes(4 << 20);
    const got = new Promise<Buffer>((resolve, reject) => {
      const server = createServer({ mss: 1400 }, (s) => readAll(s).then(resolve, reject));
      listening(server, '::1').then((port) => {
        const c = connect({ host: '::1', port, mss: 1400 });
        c.end(data);
      }, reject);
    });
    expect(sha(await got)).toBe(sha(data));
  });

  it('connects two sockets by rendezvous and exchanges data both ways', async () => {
    const pa = dgram.createSocket('udp4');
    const pb = dgram.createSocket('udp4');
    await Promise.all([new Promise<void>((r) => pa.bind(0, '127.0.0.1', () => r())), new Promise<void>((r) => pb.bind(0, '127.0.0.1', () => r()))]);
    const portA = pa.address().port;
    const portB = pb.address().port;
    pa.close();
    pb.close();
    const a = connect({ host: '127.0.0.1', port: portB, localPort: portA, localAddress: '127.0.0.1', rendezvous: true });
    const b = connect({ host: '127.0.0.1', port: portA, localPort: portB, localAddress: '127.0.0.1', rendezvous: true });
    cleanups.push(() => {
      a.destroy();
      b.destroy();
    });
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);
    a.write('from a');
    b.write('from b');
    const [[da], [db]] = await Promise.all([once(b, 'data'), once(a, 'data')]);
    expect(da.toString()).toBe('from a');
    expect(db.toString()).toBe('from b');
  });
});
