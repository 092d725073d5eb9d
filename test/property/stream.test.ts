// Stream transfers over random lossy, reordering, duplicating, rate-limited paths: every byte arrives, in order, in time.
import fc from 'fast-check';
import { appendFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { seqInc, seqOff } from '../../src/ts/core/seq.js';
import { runStreamTransfer, type SimPair, type StreamDirection } from '../../src/ts/sim/index.js';
import { checkScenario, expectThat, isnArb, linkArb, optionsArb, transferTimeBound, type CaseOutcome } from './support.js';

const MAX_PACKETS = 10_000;

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 * 1024 }) },
  { weight: 3, arbitrary: fc.integer({ min: 64 * 1024, max: 512 * 1024 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1 << 20, max: 4 << 20 }) },
);

const caseArb = fc
  .record({
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    size: sizeArb,
    /** Bytes the server sends back at the same time (most cases: none). */
    reverseSize: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: sizeArb }),
    rendezvous: fc.boolean(),
    isn: isnArb,
    link: linkArb(),
    back: linkArb(),
    options: optionsArb,
    serverMss: fc.option(fc.integer({ min: 76, max: 1500 }), { freq: 4 }),
    writeChunk: fc.constantFrom(1, 700, 1456, 65536, 1 << 20),
    slowReader: fc.option(fc.record({ everyUs: fc.integer({ min: 1000, max: 200_000 }), chunk: fc.integer({ min: 1, max: 100_000 }) }), { freq: 4 }),
    ownedProbability: fc.double({ min: 0, max: 1, noNaN: true }),
    transmitCapacity: fc.integer({ min: 1, max: 32 }),
  })
  .map((c) => {
    const payload = Math.min(c.options.mss!, c.serverMss ?? Infinity) - 44;
    const size = Math.min(c.size, MAX_PACKETS * payload);
    const reverseSize = Math.min(c.reverseSize, MAX_PACKETS * payload);
    const writeChunk = Math.max(c.writeChunk, Math.ceil(Math.max(size, reverseSize) / 2000));
    const slowReader = c.slowReader ? { ...c.slowReader, chunk: Math.max(c.slowReader.chunk, Math.ceil(size / 200)) } : null;
    return { ...c, size, reverseSize, writeChunk, slowReader };
  });

type Case = ReturnType<(typeof caseArb)['generate']>['value'];

function checkDirection(problems: string[], name: string, d: StreamDirection, size: number, bound: number): void {
  expectThat(problems, d.mismatchAt < 0, `${name}: byte ${d.mismatchAt} read differs from the byte written`);
  expectThat(problems, d.written === size, `${name}: wrote ${d.written} of ${size} bytes`);
  expectThat(problems, d.read === size, `${name}: read ${d.read} of ${size} bytes`);
  expectThat(problems, d.completedAt >= 0 && d.completedAt <= bound, `${name}: last byte read at ${d.completedAt} µs, bound ${Math.round(bound)} µs`);
}

function runCase(c: Case): CaseOutcome {
  const payload = Math.min(c.options.mss!, c.serverMss ?? Infinity) - 44;
  const reader = c.slowReader ? (Math.ceil(c.size / c.slowReader.chunk) + 1) * c.slowReader.everyUs : 0;
  const fwdPackets = Math.ceil(c.size / payload);
  const revPackets = Math.ceil(c.reverseSize / payload);
  // Two directions share nothing but the hosts; budget them one after the other.
  const bound =
    transferTimeBound({ packets: fwdPackets, payload, link: c.link, back: c.back, extraUs: reader }) +
    (revPackets > 0 ? transferTimeBound({ packets: revPackets, payload, link: c.back, back: c.link }) : 0);
  const t0 = performance.now();
  const idle = c.options.idleTimeout! * 1000;
  let pair: SimPair | null = null;
  const twoWay = c.reverseSize > 0;
  const r = runStreamTransfer({
    seed: c.seed,
    bytes: c.size,
    reverseBytes: c.reverseSize,
    rendezvous: c.rendezvous,
    isn: c.isn,
    link: c.link,
    back: c.back,
    options: c.options,
    serverOptions: c.serverMss ? { mss: c.serverMss } : undefined,
    writeChunk: c.writeChunk,
    readChunk: c.slowReader?.chunk,
    readEveryUs: c.slowReader?.everyUs,
    ownedProbability: c.ownedProbability,
    transmitCapacity: c.transmitCapacity,
    until: bound + 2 * idle,
    onSetup: (p) => (pair = p),
  });
  const p = r.pair;
  const problems: string[] = [];
  const client = p.client;
  const server = p.server();
  checkDirection(problems, 'client->server', r, c.size, bound);
  if (twoWay) checkDirection(problems, 'server->client', r.reverse, c.reverseSize, bound);
  expectThat(problems, r.run.end === 'idle', `run ended '${r.run.end}' at ${r.run.now} µs with events still queued`);
  expectThat(problems, p.spins() === 0, `${p.spins()} spins (a due wake that sent nothing and kept its deadline)`);
  for (const v of p.violations().slice(0, 5)) problems.push(`invariant: ${v}`);
  if (!server) {
    problems.push('the server side never got a connection');
    return { problems, pair, facts: { bound } };
  }
  if (twoWay) {
    // Whoever closes second may get the peer's SHUTDOWN while its own last ACK is still on the way (UDT has no
    // closing handshake); the data checks above are what matter.
    const fine = ['local-close', 'peer-shutdown', 'peer-dead'];
    expectThat(problems, fine.includes(client.closeReason ?? ''), `client closed with ${client.closeReason}`);
    expectThat(problems, fine.includes(server.closeReason ?? ''), `server closed with ${server.closeReason}`);
  } else {
    expectThat(problems, client.closeReason === 'local-close' && client.closeError === null, `client closed with ${client.closeReason} ${client.closeError?.code ?? ''}`);
    // A rendezvous client with nothing to send closes as soon as it connects; if its last handshake was lost the other
    // side never completes (a closed socket answers nothing, as in libudt) and gives up at its connect time-out.
    const gaveUp = c.rendezvous && c.size === 0 && server.closeReason === 'connect-timeout';
    expectThat(problems, server.closeReason === 'peer-shutdown' || server.closeReason === 'peer-dead' || gaveUp, `server closed with ${server.closeReason}`);
    expectThat(problems, r.deliverableAtServerClose === c.size, `server could read ${r.deliverableAtServerClose} of ${c.size} bytes when it saw 'closed'`);
  }
  expectThat(problems, r.readAtClientClose <= c.size, 'client closed before its data was read');
  const sc = client.conn.counters;
  const rc = server.conn.counters;
  const s = client.conn.sender!;
  const newPackets = seqOff(c.isn, seqInc(s.sndCurr));
  const needed = Math.ceil(c.size / s.buffer.payloadSize);
  expectThat(problems, newPackets >= needed, `sent ${newPackets} new packets for ${needed} packets of data`);
  expectThat(problems, sc.pktSent === newPackets + sc.pktRetrans, `pktSent ${sc.pktSent} != new ${newPackets} + retransmitted ${sc.pktRetrans}`);
  expectThat(problems, sc.bytesSent === c.size, `bytesSent ${sc.bytesSent} != ${c.size}`);
  expectThat(problems, sc.pktRetrans <= sc.pktSndLoss, `retransmitted ${sc.pktRetrans} > loss-list insertions ${sc.pktSndLoss}`);
  expectThat(problems, rc.bytesRecv === c.size, `receiver bytesRecv ${rc.bytesRecv} != ${c.size}`);
  expectThat(problems, rc.pktRecv >= newPackets, `receiver pktRecv ${rc.pktRecv} < ${newPackets} packets needed`);
  expectThat(problems, rc.pktRecv <= server.dataIn, `receiver counted ${rc.pktRecv} data packets but was handed ${server.dataIn}`);
  expectThat(problems, rc.pktRecv === newPackets + rc.pktRecvDup + rc.pktRecvBeyondWindow, 'receiver pktRecv != new + duplicate + beyond-window');
  expectThat(problems, server.dataIn <= p.forward.counters.delivered, 'more data handed to the server than the link delivered');
  if (twoWay) {
    expectThat(problems, rc.bytesSent === c.reverseSize, `server bytesSent ${rc.bytesSent} != ${c.reverseSize}`);
    expectThat(problems, sc.bytesRecv === c.reverseSize, `client bytesRecv ${sc.bytesRecv} != ${c.reverseSize}`);
    expectThat(problems, rc.pktRetrans <= rc.pktSndLoss, `server retransmitted ${rc.pktRetrans} > loss-list insertions ${rc.pktSndLoss}`);
  }
  for (const [name, link, cfg] of [['forward', p.forward, c.link], ['backward', p.backward, c.back]] as const) {
    if (cfg.queuePackets !== undefined && link.counters.maxQueuePackets > cfg.queuePackets) problems.push(`${name} queue reached ${link.counters.maxQueuePackets} > ${cfg.queuePackets}`);
  }
  // UDT_PROP_STATS=<file> appends one line per case (completion time against the bound), to recalibrate the bound.
  if (process.env.UDT_PROP_STATS) {
    const line = { c, bound, completedAt: Math.max(r.completedAt, r.reverse.completedAt), newPackets, retrans: sc.pktRetrans, exp: sc.expTimeouts, ms: performance.now() - t0 };
    appendFileSync(process.env.UDT_PROP_STATS, JSON.stringify(line) + '\n');
  }
  return { problems, pair, facts: { bound: Math.round(bound), completedAt: r.completedAt, reverseCompletedAt: r.reverse.completedAt, newPackets, retrans: sc.pktRetrans, exp: sc.expTimeouts } };
}

describe('property: stream transfer over a random path', () => {
  it('delivers every byte in order (both ways when asked) within the time bound; buffers, queues and counters stay consistent', () => {
    checkScenario(caseArb, runCase);
  });
});
