// Handshakes whose cookie is wrong (tampered, guessed, or replayed from another address) never create a connection.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { resolveConfig } from '../../src/ts/core/config.js';
import { decodePacket, encodePacket, HANDSHAKE_BODY_SIZE, HEADER_SIZE, ipToBytes, writeHandshake } from '../../src/ts/core/packet.js';
import { CLIENT_ADDR, Network, SERVER_ADDR, UdtHost, type SimPair } from '../../src/ts/sim/index.js';
import { checkScenario, expectThat, linkArb, type CaseOutcome } from './support.js';

const ATTACKER = '10.0.0.66:5555';

const caseArb = fc.record({
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  link: linkArb(0.3),
  /** The client starts this long before a cookie bucket boundary (60 s), so some attempts straddle it. */
  startBeforeBoundaryUs: fc.integer({ min: 0, max: 4_000_000 }),
  /** Non-zero XOR applied to the cookie of every -1 request the real client sends. */
  cookieXor: fc.integer({ min: 1, max: 0xffffffff }),
  /** Forged -1 requests from a third address: guessed cookies, and the client's own (valid) request replayed. */
  forgeries: fc.array(
    fc.record({ at: fc.integer({ min: 0, max: 3_000_000 }), cookie: fc.integer({ min: -0x80000000, max: 0x7fffffff }), replay: fc.boolean() }),
    { maxLength: 20 },
  ),
});

type Case = ReturnType<(typeof caseArb)['generate']>['value'];

function runCase(c: Case): CaseOutcome {
  const net = new Network({ seed: c.seed });
  net.setPath(CLIENT_ADDR, SERVER_ADDR, c.link);
  net.setPath(ATTACKER, SERVER_ADDR, {});
  const clientHost = new UdtHost(net, CLIENT_ADDR, { seed: c.seed ^ 1 });
  const serverHost = new UdtHost(net, SERVER_ADDR, { seed: c.seed ^ 2 });
  const attacker = { address: ATTACKER, received: 0, receive: () => attacker.received++ };
  net.addNode(attacker);
  const listener = serverHost.listen(resolveConfig({ seed: c.seed ^ 3 }));
  let validRequest: Uint8Array | null = null;
  let minusOnes = 0;
  net.tamper = (_now, from, _to, data) => {
    const p = decodePacket(data);
    if (from !== CLIENT_ADDR || p.kind !== 'handshake' || p.hs.reqType !== -1) return data;
    minusOnes++;
    validRequest = data.slice();
    return encodePacket({ ...p, hs: { ...p.hs, cookie: (p.hs.cookie ^ c.cookieXor) | 0 } });
  };
  const start = 60_000_000 - c.startBeforeBoundaryUs;
  let client: ReturnType<UdtHost['connect']> | null = null;
  net.schedule(start, () => {
    client = clientHost.connect(SERVER_ADDR, resolveConfig({ seed: c.seed ^ 4 }));
  });
  for (const f of c.forgeries) {
    net.schedule(start + f.at, () => {
      let buf: Uint8Array;
      if (f.replay && validRequest) {
        buf = validRequest;
      } else {
        buf = new Uint8Array(HEADER_SIZE + HANDSHAKE_BODY_SIZE);
        writeHandshake(buf, 0, 0, {
          version: 4,
          sockType: 1,
          isn: f.at,
          mss: 1500,
          flowWindow: 8192,
          reqType: -1,
          socketId: 1 + (f.at % 1000),
          cookie: f.cookie,
          peerIp: ipToBytes('10.0.0.2'),
        });
      }
      net.send(ATTACKER, SERVER_ADDR, buf);
    });
  }
  const run = net.run({ until: 120_000_000 });
  const problems: string[] = [];
  expectThat(problems, serverHost.connections.length === 0, `the listener accepted ${serverHost.connections.length} connection(s)`);
  const cl = client as ReturnType<UdtHost['connect']> | null;
  expectThat(problems, cl !== null && cl.closeReason === 'connect-timeout', `client ended with ${cl?.closeReason ?? 'nothing'}`);
  expectThat(problems, cl !== null && cl.connectedAt < 0, 'client saw connected');
  expectThat(problems, run.end === 'idle', `run ended '${run.end}'`);
  expectThat(problems, clientHost.spinCount + serverHost.spinCount === 0, 'spins');
  const pair = { net } as unknown as SimPair;
  return { problems, pair, facts: { minusOnes, badCookies: listener.badCookies, challenges: listener.challenges, attackerGot: attacker.received } };
}

describe('property: listener cookies', () => {
  it('a -1 request with a wrong cookie never completes, nor does a valid one replayed from another address', () => {
    checkScenario(caseArb, runCase);
  });
});
