// Our sockets through the lossy UDP relay (5% loss, reordering, duplication), both engines: delivery stays exact.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type UdtSocket } from '../../src/ts/api/index.js';
import { loadNativeBinding } from '../../src/ts/engine/native-binding.js';
import { LossyRelay } from '../support/lossy-relay.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const native = loadNativeBinding();
if (!native.binding) console.warn(`[lossy-path] native engine half skipped: ${native.reason}`);
const engines = native.binding ? (['dgram', 'native'] as const) : (['dgram'] as const);
const SHUTDOWN_WORD = 0x80050000;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Reads until `n` bytes arrived. */
function readBytes(s: UdtSocket, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  return new Promise((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      parts.push(d);
      have += d.length;
      if (have >= n) resolve(Buffer.concat(parts));
    });
    s.once('error', reject);
  });
}

describe.each(engines)('through a relay with 5 percent loss, reordering and duplication (%s engine)', (engine) => {
  it('moves 8 MB up and 2 MB down at the same time, byte-exact, then closes', async () => {
    const up = randomBytes(8 << 20);
    const down = randomBytes(2 << 20);
    let accepted!: (got: Promise<Buffer>) => void;
    const serverGot = new Promise<Promise<Buffer>>((r) => (accepted = r)).then((p) => p);
    const server = createServer({ engine }, (s) => {
      accepted(readBytes(s, up.length));
      s.write(down);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const relay = new LossyRelay({
      target: { host: '127.0.0.1', port: server.address()!.port },
      seed: 1124,
      loss: 0.05,
      reorderRate: 0.05,
      reorderDelayMs: [1, 8],
      dupRate: 0.01,
      // SHUTDOWN is sent once by design (as libudt): losing it would only make the other side wait for its idle timeout.
      spare: (_way, d) => d.length >= 4 && d.readUInt32BE(0) === SHUTDOWN_WORD,
    });
    const relayPort = await relay.start();
    cleanups.push(() => relay.stop());
    const client = connect({ host: '127.0.0.1', port: relayPort, engine });
    const clientGot = readBytes(client, down.length);
    await once(client, 'connect');
    client.write(up);
    const [atServer, atClient] = await Promise.all([serverGot, clientGot]);
    expect(sha(atServer.subarray(0, up.length))).toBe(sha(up));
    expect(atServer.length).toBe(up.length);
    expect(sha(atClient)).toBe(sha(down));
    const st = relay.stats();
    expect(st.toTarget.dropped).toBeGreaterThan(100);
    expect(st.toTarget.reordered).toBeGreaterThan(50);
    const stats = client.getStats();
    expect(stats.pktRetransTotal).toBeGreaterThan(0);
    const closed = once(client, 'close');
    client.end();
    await closed;
    console.log(
      `[lossy-path ${engine}] relay dropped ${st.toTarget.dropped}/${st.toClient.dropped}, reordered ${st.toTarget.reordered}, ` +
        `duplicated ${st.toTarget.duplicated}; client retransmitted ${stats.pktRetransTotal} of ${stats.pktSentTotal}`,
    );
  }, 120_000);
});
