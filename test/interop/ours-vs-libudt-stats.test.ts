// Our getStats() against libudt's perfmon (TRACEINFO) on lossless loopback transfers: the same counters, the same meaning.
import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UdtSocket, UdtStats } from '../../src/ts/api/index.js';
import { buildUdtPeer, expectCleanExit, killAllUdtPeers, skipWithoutLibudt, spawnUdtPeer, startUdtListener } from '../support/libudt.js';
import { closed, connectOurs, listenOurs, MB, randomData, sleep, within, writeAll } from '../support/interop.js';

const skip = skipWithoutLibudt('ours-vs-libudt stats');
const LOCAL = '127.0.0.1';
const SIZE = 8 * MB;
// A rate cap keeps loopback lossless (no kernel buffer overflow), so most counters must agree exactly.
const CAP = 20 * MB;

type Perf = Record<string, number>;

function table(rows: Array<[string, number, number]>): string {
  return rows.map(([name, a, b]) => `${name.padEnd(34)} ours ${String(a).padStart(7)}   libudt ${String(b).padStart(7)}`).join('\n');
}

describe.skipIf(skip)('ours ↔ libudt 4.11: getStats() and perfmon agree', () => {
  beforeAll(async () => {
    await buildUdtPeer();
  });

  afterEach(killAllUdtPeers);

  it('our client sends 8 MB to a libudt listener: our sent/ACK/NAK counters are its received ones', async () => {
    const { peer, port } = await startUdtListener(['--host', LOCAL, '--port', '0', '--discard', '--expect-bytes', String(SIZE), '--max-time', '60']);
    const socket = await connectOurs({ host: LOCAL, port, maxBandwidth: CAP });
    const ending = closed(socket);
    await writeAll(socket, randomData(SIZE));
    await within(
      (async () => {
        for (let s = socket.getStats(); s.bytesSentTotal < SIZE || s.pktFlightSize > 0; s = socket.getStats()) await sleep(5);
      })(),
      30_000,
      'everything acknowledged',
    );
    // udtpeer snapshots perfmon every 100 ms (perfmon fails once we have closed): let it see the final state first.
    await sleep(350);
    const ours = socket.getStats({ clear: false });
    socket.end();
    expect(await within(ending, 10_000, 'close')).toBeNull();
    const [done] = await expectCleanExit(peer);
    const p = done.perf as Perf;
    console.log(
      `[interop stats] ours → libudt (libudt perf ${done.perfAgeMs} ms old):\n` +
        table([
          ['data sent / received', ours.pktSentTotal, p.pktRecvTotal],
          ['full ACKs received / sent', ours.pktRecvACKTotal, p.pktSentACKTotal],
          ['NAKs received / sent', ours.pktRecvNAKTotal, p.pktSentNAKTotal],
          ['loss: sender list / receiver gaps', ours.pktSndLossTotal, p.pktRcvLossTotal],
          ['retransmitted / -', ours.pktRetransTotal, 0],
          ['ACK2 sent / - (Q1: one per full ACK)', ours.pktSentACK2Total, 0],
          ['light ACKs received / (not counted)', ours.pktRecvLightACKTotal, 0],
          ['RTT ms (sender view / receiver)', ours.msRTT, p.msRTT],
        ]),
    );
    // Loopback loses no datagram at this rate: each one we sent (retransmissions included) libudt received, each ACK
    // and NAK it sent we received. Gaps it saw come from reordering (see docs/INTEROP.md), each NAKed once.
    expect(ours.pktSentTotal).toBe(p.pktRecvTotal);
    expect(ours.pktRecvACKTotal).toBe(p.pktSentACKTotal);
    expect(ours.pktRecvNAKTotal).toBe(p.pktSentNAKTotal);
    if (ours.expTimeoutsTotal === 0) expect(ours.pktSndLossTotal).toBe(p.pktRcvLossTotal);
    expect(ours.pktRetransTotal).toBeLessThanOrEqual(ours.pktSndLossTotal);
    expect(ours.pktSentACK2Total).toBe(ours.pktRecvACKTotal);
    // libudt counts full ACKs only (pktRecvACK); its light ACKs (every 64 packets) are ours to count separately.
    expect(ours.pktRecvLightACKTotal).toBeGreaterThan(0);
    // Both RTTs come from the receiver's ACK→ACK2 samples: on loopback both are well under a millisecond or so.
    expect(p.msRTT).toBeLessThan(20);
    expect(ours.msRTT).toBeLessThan(20);
  });

  it('a libudt client sends 8 MB to our listener: its sent/ACK/NAK counters are our received ones', async () => {
    const { server, port } = await listenOurs({});
    const accepted = once(server, 'connection') as Promise<[UdtSocket]>;
    const peer = await spawnUdtPeer(['connect', '--host', LOCAL, '--port', String(port), '--send-bytes', String(SIZE), '--maxbw', String(CAP), '--max-time', '60']);
    const [socket] = await within(accepted, 10_000, 'accept');
    server.close();
    const ending = closed(socket);
    let received = 0;
    socket.on('data', (d: Buffer) => (received += d.length));
    // libudt closes once everything is acknowledged; its final perfmon is taken just before (fresh).
    const [done] = await expectCleanExit(peer);
    expect(await within(ending, 10_000, 'close')).toBeNull();
    const ours: UdtStats = socket.getStats({ clear: false });
    const p = done.perf as Perf;
    console.log(
      `[interop stats] libudt → ours (libudt perf ${done.perfAgeMs} ms old):\n` +
        table([
          ['data received / sent', ours.pktRecvTotal, p.pktSentTotal],
          ['full ACKs sent / received', ours.pktSentACKTotal, p.pktRecvACKTotal],
          ['NAKs sent / received', ours.pktSentNAKTotal, p.pktRecvNAKTotal],
          ['loss: receiver gaps / sender list', ours.pktRcvLossTotal, p.pktSndLossTotal],
          ['duplicates received / retransmitted', ours.pktRecvDupTotal, p.pktRetransTotal],
          ['ACK2 received / - (Q1: one per full ACK)', ours.pktRecvACK2Total, 0],
          ['light ACKs sent / (not counted)', ours.pktSentLightACKTotal, 0],
          ['RTT ms', ours.msRTT, p.msRTT],
        ]),
    );
    expect(received).toBe(SIZE);
    expect(ours.pktRecvTotal).toBe(p.pktSentTotal);
    expect(ours.pktSentACKTotal).toBe(p.pktRecvACKTotal);
    expect(ours.pktSentNAKTotal).toBe(p.pktRecvNAKTotal);
    expect(ours.pktRecvDupTotal).toBeLessThanOrEqual(p.pktRetransTotal);
    // Every gap we saw was NAKed at once (and none is lost on loopback); a periodic NAK of ours or an EXP go-back of
    // libudt's can list a seq again, so libudt's count is at least ours.
    expect(p.pktSndLossTotal).toBeGreaterThanOrEqual(ours.pktRcvLossTotal);
    expect(ours.pktRecvACK2Total).toBe(ours.pktSentACKTotal);
    expect(ours.pktSentLightACKTotal).toBeGreaterThan(0);
    // libudt keeps one RTT per socket (a receiver's from ACK→ACK2); so must a receive-only socket of ours.
    expect(p.msRTT).toBeLessThan(20);
    expect(ours.msRTT).toBeLessThan(20);
  });
});
