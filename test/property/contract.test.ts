// The driver contract under random application behaviour: handleTimeout at the deadline always makes progress.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { resolveConfig, type ConnectionOptions } from '../../src/ts/core/config.js';
import { UdtError } from '../../src/ts/core/errors.js';
import { CLIENT_ADDR, Network, SERVER_ADDR, UdtHost, type HostedConnection, type SimPair } from '../../src/ts/sim/index.js';
import { checkScenario, expectThat, linkArb, type CaseOutcome } from './support.js';

const opArb = fc.record({
  at: fc.integer({ min: 0, max: 20_000_000 }),
  onServer: fc.boolean(),
  op: fc.constantFrom('write', 'write', 'write', 'read', 'pause-reading', 'resume-reading', 'close', 'destroy'),
  bytes: fc.integer({ min: 1, max: 300_000 }),
  ttlMs: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2000 })),
});

const caseArb = fc.record({
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  mode: fc.constantFrom('stream', 'message') as fc.Arbitrary<'stream' | 'message'>,
  rendezvous: fc.boolean(),
  link: linkArb(),
  back: linkArb(),
  timerSlackUs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 })),
  keepAliveMs: fc.integer({ min: 10, max: 2000 }),
  idleTimeoutMs: fc.integer({ min: 200, max: 20_000 }),
  lingerMs: fc.integer({ min: 0, max: 10_000 }),
  bufferPackets: fc.integer({ min: 32, max: 2000 }),
  ops: fc.array(opArb, { maxLength: 30, size: 'max' }),
});

type Case = ReturnType<(typeof caseArb)['generate']>['value'];

function runCase(c: Case): CaseOutcome {
  const net = new Network({ seed: c.seed });
  net.setPath(CLIENT_ADDR, SERVER_ADDR, c.link, c.back);
  const hosts = [CLIENT_ADDR, SERVER_ADDR].map((a, i) => new UdtHost(net, a, { seed: c.seed + i, timerSlackUs: c.timerSlackUs, transmitCapacity: 1 + (c.seed % 8) }));
  const options: ConnectionOptions = {
    mode: c.mode,
    keepAliveInterval: c.keepAliveMs,
    idleTimeout: c.idleTimeoutMs,
    linger: c.lingerMs,
    connectTimeout: 5000,
    sendBufferSize: c.bufferPackets * 1472,
    receiveBufferSize: c.bufferPackets * 1472,
  };
  const conns: Array<HostedConnection | null> = [null, null];
  const reading = [true, true];
  const unexpected: string[] = [];
  const app = (side: number) => ({
    onConnection(hc: HostedConnection) {
      conns[side] = hc;
    },
    onService(hc: HostedConnection) {
      if (!reading[side]) return;
      if (c.mode === 'stream') while (hc.conn.read(65536));
      else while (hc.conn.readMessage());
    },
  });
  hosts[0].app = app(0);
  hosts[1].app = app(1);
  if (c.rendezvous) {
    hosts[0].rendezvous(SERVER_ADDR, resolveConfig({ ...options, seed: c.seed }, true));
    hosts[1].rendezvous(CLIENT_ADDR, resolveConfig({ ...options, seed: c.seed + 1 }, true));
  } else {
    hosts[1].listen(resolveConfig({ ...options, seed: c.seed + 1 }));
    hosts[0].connect(SERVER_ADDR, resolveConfig({ ...options, seed: c.seed }));
  }
  for (const o of c.ops) {
    net.schedule(o.at, () => {
      const side = o.onServer ? 1 : 0;
      const hc = conns[side];
      if (!hc) return;
      const conn = hc.conn;
      try {
        switch (o.op) {
          case 'write':
            if (conn.state !== 'connected') return;
            if (c.mode === 'stream') conn.write(new Uint8Array(o.bytes), net.now);
            else conn.sendMessage(new Uint8Array(Math.min(o.bytes, 20 * (conn.mss - 44))), net.now, o.ttlMs, o.bytes % 2 === 0);
            break;
          case 'read':
            if (c.mode === 'stream') conn.read(o.bytes);
            else conn.readMessage();
            break;
          case 'pause-reading':
            reading[side] = false;
            break;
          case 'resume-reading':
            reading[side] = true;
            break;
          case 'close':
            conn.close(net.now);
            break;
          case 'destroy':
            conn.destroy();
            break;
        }
      } catch (e) {
        if (!(e instanceof UdtError && e.code === 'ERR_UDT_INVALID_OP')) unexpected.push(`${o.op}: ${(e as Error).message}`);
      }
      hc.kick();
    });
  }
  net.schedule(25_000_000, () => {
    for (const hc of conns) {
      if (!hc) continue;
      hc.conn.close(net.now);
      hc.kick();
    }
  });
  const run = net.run({ until: 200_000_000 });
  const problems: string[] = [...unexpected];
  const spins = hosts[0].spinCount + hosts[1].spinCount;
  expectThat(problems, spins === 0, `${spins} spins, first: ${JSON.stringify(hosts[0].spins[0] ?? hosts[1].spins[0])}`);
  for (const v of [...hosts[0].violations, ...hosts[1].violations].slice(0, 5)) problems.push(`invariant: ${v}`);
  // Both sides close at 25 s: linger, SHUTDOWN or the idle time-out then end every connection.
  expectThat(problems, run.end === 'idle', `run ended '${run.end}' at ${run.now} µs`);
  const pair = { net } as unknown as SimPair;
  return { problems, pair, facts: { states: conns.map((h) => h?.conn.state ?? null), reasons: conns.map((h) => h?.closeReason ?? null), rewakes: hosts[0].rewakes + hosts[1].rewakes } };
}

describe('property: driver contract', () => {
  it('handleTimeout at the deadline always makes progress (no spins), and every connection ends', () => {
    checkScenario(caseArb, runCase);
  });
});
