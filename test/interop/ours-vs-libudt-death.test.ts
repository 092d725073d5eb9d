// Peer death against libudt 4.11: a SIGKILLed libudt is ERR_UDT_PEER_DEAD for us, and libudt notices our death (~47 s).
import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UdtSocket } from '../../src/ts/api/index.js';
import { buildUdtPeer, killAllUdtPeers, skipWithoutLibudt, spawnUdtPeer, startUdtListener, type UdtPeer } from '../support/libudt.js';
import { connectOurs, listenOurs, MB, sleep, spawnNodePeer, within } from '../support/interop.js';

const skip = skipWithoutLibudt('ours-vs-libudt death');
const LOCAL = '127.0.0.1';
const IDLE_TIMEOUT_MS = 3000;

/** Kills `peer` and resolves with how long our socket took to fail, and the error. */
async function killAndTime(peer: UdtPeer, socket: UdtSocket): Promise<{ ms: number; error: Error & { code?: string } }> {
  const failed = once(socket, 'error') as Promise<[Error & { code?: string }]>;
  const killedAt = Date.now();
  peer.kill('SIGKILL');
  const [error] = await within(failed, IDLE_TIMEOUT_MS + 5000, 'our socket noticing the dead peer');
  return { ms: Date.now() - killedAt, error };
}

describe.skipIf(skip)('ours ↔ libudt 4.11: a peer that dies', () => {
  beforeAll(async () => {
    await buildUdtPeer();
  });

  afterEach(killAllUdtPeers);

  it('libudt listener killed mid-transfer: our client fails with ERR_UDT_PEER_DEAD after idleTimeout (3 s)', async () => {
    const { peer, port } = await startUdtListener(['--host', LOCAL, '--port', '0', '--send-bytes', String(1e12), '--maxbw', String(2 * MB), '--max-time', '60']);
    const socket = await connectOurs({ host: LOCAL, port, idleTimeout: IDLE_TIMEOUT_MS });
    let received = 0;
    socket.on('data', (d: Buffer) => (received += d.length));
    await sleep(1000);
    const { ms, error } = await killAndTime(peer, socket);
    console.log(`[interop death] libudt listener SIGKILLed while sending: our client failed after ${ms} ms (${error.code}), ${received} bytes received`);
    expect(error.code).toBe('ERR_UDT_PEER_DEAD');
    expect(received).toBeGreaterThan(0);
    expect(ms).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 100);
  });

  it('idle libudt client killed: our server-side socket fails with ERR_UDT_PEER_DEAD after idleTimeout (3 s)', async () => {
    const { server, port } = await listenOurs({ idleTimeout: IDLE_TIMEOUT_MS });
    const accepted = once(server, 'connection') as Promise<[UdtSocket]>;
    const peer = await spawnUdtPeer(['connect', '--host', LOCAL, '--port', String(port), '--hold-ms', '-1', '--max-time', '60']);
    const [socket] = await within(accepted, 10_000, 'accept');
    server.close();
    await sleep(1500);
    const { ms, error } = await killAndTime(peer, socket);
    console.log(`[interop death] idle libudt client SIGKILLed: our server socket failed after ${ms} ms (${error.code})`);
    expect(error.code).toBe('ERR_UDT_PEER_DEAD');
    // Counted from the last keep-alive heard, which libudt sends every 0.3-0.9 s while idle.
    expect(ms).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 1000);
  });

  it('our client (a child process) killed mid-transfer: the libudt listener reports the connection broken (slow: ~47 s)', async () => {
    const { peer: listener, port } = await startUdtListener(
      ['--host', LOCAL, '--port', '0', '--discard', '--expect-bytes', String(1e12), '--max-time', '115'],
      { timeoutMs: 118_000 },
    );
    const ours = spawnNodePeer(['connect', '--host', LOCAL, '--port', String(port), '--send-bytes', String(1e12), '--max-bw', String(2 * MB), '--max-time', '115'], {
      timeoutMs: 118_000,
    });
    await ours.waitFor('connected', 20_000);
    await listener.waitFor('connected', 10_000);
    await sleep(1500);
    const killedAt = Date.now();
    ours.kill('SIGKILL');
    const broken = await listener.waitFor('broken', 110_000);
    const ms = Date.now() - killedAt;
    console.log(
      `[interop death] our client SIGKILLed while sending: libudt reported broken after ${ms} ms ` +
        `(msSinceLastRecv ${broken.msSinceLastRecv}, ${broken.bytesRecv} bytes received)`,
    );
    expect(broken.code).toBe(2001);
    expect(Number(broken.bytesRecv)).toBeGreaterThan(0);
    expect(ms).toBeGreaterThan(20_000);
    expect((await listener.waitExit()).code).toBe(3);
  }, 120_000);
});
