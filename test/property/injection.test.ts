// Random, malformed and mutated datagrams fed to live connections: no throw, no spin, and never a wrong byte delivered.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { HEADER_SIZE, readU32, writeU32 } from '../../src/ts/core/packet.js';
import { createRng } from '../../src/ts/core/rng.js';
import { seqCmp, seqDec, seqInc } from '../../src/ts/core/seq.js';
import { CLIENT_ADDR, runStreamTransfer, SERVER_ADDR, type HostedConnection, type SimPair } from '../../src/ts/sim/index.js';
import { checkScenario, expectThat, isnArb, linkArb, transferTimeBound, type CaseOutcome } from './support.js';

/**
 * Injections that a correct receiver must shrug off: malformed datagrams, data far outside the window, garbage
 * copies of data it has already acknowledged, keep-alives, and datagrams for a socket id nobody has. UDT has no
 * integrity check, so a forged data packet for a sequence number still missing would be accepted by any peer
 * (libudt included); such forgeries are deliberately not generated.
 */
const HARMLESS = ['short', 'empty-data', 'bad-size', 'unknown-type', 'far-data', 'old-data', 'keepalive', 'wrong-dst'] as const;
/** Injections that may disturb or end the connection (forged ACK/NAK/drop/shutdown/error, mutated control). */
const DISTURBING = ['control', 'mutate-control', 'truncate'] as const;
type Kind = (typeof HARMLESS)[number] | (typeof DISTURBING)[number];

const injectionArb = (kinds: readonly Kind[]) =>
  fc.record({
    /** When, as a fraction of the datagrams the transfer is expected to send. */
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    toServer: fc.boolean(),
    kind: fc.constantFrom(...kinds),
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
  });

const caseArb = (kinds: readonly Kind[]) =>
  fc.record({
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    size: fc.integer({ min: 1, max: 400_000 }),
    isn: isnArb,
    link: linkArb(0.1),
    back: linkArb(0.1),
    injections: fc.array(injectionArb(kinds), { minLength: 1, maxLength: 100, size: 'max' }),
  });

type Case = ReturnType<ReturnType<typeof caseArb>['generate']>['value'];
type Injection = Case['injections'][number];

/** Remembers the last datagrams each side sent (copies), as raw material for mutations. */
class Recorder {
  readonly sent = new Map<string, Uint8Array[]>();
  add(from: string, data: Uint8Array): void {
    let list = this.sent.get(from);
    if (!list) this.sent.set(from, (list = []));
    list.push(data.slice());
    if (list.length > 64) list.shift();
  }
  pick(from: string, rnd: () => number, filter: (d: Uint8Array) => boolean): Uint8Array | null {
    const list = (this.sent.get(from) ?? []).filter(filter);
    return list.length ? list[Math.floor(rnd() * list.length)].slice() : null;
  }
}

const isControl = (d: Uint8Array) => d.length >= HEADER_SIZE && (d[0] & 0x80) !== 0;
const isData = (d: Uint8Array) => d.length > HEADER_SIZE && (d[0] & 0x80) === 0;

function controlHeader(len: number, type: number, info: number, dst: number, rnd: () => number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = HEADER_SIZE; i < len; i++) b[i] = Math.floor(rnd() * 256);
  writeU32(b, 0, (0x80000000 | ((type & 0x7fff) << 16)) >>> 0);
  writeU32(b, 4, info >>> 0);
  writeU32(b, 12, dst >>> 0);
  return b;
}

/** A sequence-like number near the live window (or a classic edge value). */
function nearSeq(hc: HostedConnection, rnd: () => number): number {
  const s = hc.conn.sender;
  const r = hc.conn.receiver;
  const base = [s?.sndCurr, s?.sndLastAck, r?.rcvCurr, r?.rcvLastAck, 0, 0x7fffffff][Math.floor(rnd() * 6)] ?? 0;
  const k = Math.floor(rnd() * 40) - 20;
  return k >= 0 ? seqInc(base, k) : seqDec(base, -k);
}

/** Builds the datagram for one injection against `hc`, or null when the live state offers nothing to work with. */
function build(inj: Injection, hc: HostedConnection, rec: Recorder): { data: Uint8Array; viaNetwork: boolean } | null {
  const rnd = createRng(inj.seed);
  const dst = hc.conn.localSocketId;
  const peerSent = hc.peer;
  const r = hc.conn.receiver;
  switch (inj.kind) {
    case 'short': {
      const b = new Uint8Array(Math.floor(rnd() * HEADER_SIZE));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      return { data: b, viaNetwork: false };
    }
    case 'empty-data': {
      const b = new Uint8Array(HEADER_SIZE);
      writeU32(b, 0, nearSeq(hc, rnd));
      writeU32(b, 12, dst);
      return { data: b, viaNetwork: false };
    }
    case 'bad-size': {
      const shapes: Array<[number, number]> = [
        [0, 16 + 44], // handshake body not 48
        [0, 16 + 52],
        [2, 16 + 8], // ACK body neither 4 nor >= 16
        [2, 16],
        [3, 16], // NAK without body
        [3, 16 + 6], // NAK body not whole words
        [7, 16 + 4], // drop request too short
      ];
      const [type, len] = shapes[Math.floor(rnd() * shapes.length)];
      return { data: controlHeader(len, type, Math.floor(rnd() * 2 ** 32), dst, rnd), viaNetwork: false };
    }
    case 'unknown-type':
      return { data: controlHeader(16 + 4 * Math.floor(rnd() * 4), 9 + Math.floor(rnd() * (0x7ffe - 9)), 0, dst, rnd), viaNetwork: false };
    case 'far-data': {
      if (!r) return null;
      const b = new Uint8Array(HEADER_SIZE + 1 + Math.floor(rnd() * 100));
      for (let i = HEADER_SIZE; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      // Beyond the receive window, or far behind it: never acceptable.
      const ahead = r.buffer.maxPackets + Math.floor(rnd() * 2 ** 29);
      writeU32(b, 0, rnd() < 0.5 ? seqInc(r.buffer.readSeq, ahead) : seqDec(r.buffer.readSeq, 1 + Math.floor(rnd() * 2 ** 29)));
      writeU32(b, 4, Math.floor(rnd() * 2 ** 32));
      writeU32(b, 12, dst);
      return { data: b, viaNetwork: false };
    }
    case 'old-data': {
      if (!r) return null;
      const lastAck = r.rcvLastAck;
      const old = rec.pick(peerSent, rnd, (d) => isData(d) && seqCmp(readU32(d, 0), lastAck) < 0);
      if (!old) return null;
      const len = HEADER_SIZE + 1 + Math.floor(rnd() * (old.length - HEADER_SIZE));
      const b = old.subarray(0, len).slice();
      for (let i = HEADER_SIZE; i < b.length; i++) b[i] ^= 1 + Math.floor(rnd() * 255);
      return { data: b, viaNetwork: false };
    }
    case 'keepalive':
      return { data: controlHeader(20, 1, 0, dst, () => 0), viaNetwork: false };
    case 'wrong-dst': {
      const any = rec.pick(peerSent, rnd, () => true);
      if (!any || any.length < HEADER_SIZE) return null;
      writeU32(any, 12, (dst ^ (1 + Math.floor(rnd() * 0x3fffffff))) & 0x7fffffff || 1);
      return { data: any, viaNetwork: true };
    }
    case 'control': {
      const types = [0, 1, 2, 2, 2, 3, 3, 3, 4, 5, 6, 6, 7, 8, 0x7fff];
      const type = types[Math.floor(rnd() * types.length)];
      const words = type === 0 ? 12 : type === 2 ? [1, 4, 6][Math.floor(rnd() * 3)] : Math.floor(rnd() * 6);
      const b = controlHeader(HEADER_SIZE + 4 * words, type, rnd() < 0.5 ? nearSeq(hc, rnd) : Math.floor(rnd() * 2 ** 32), dst, rnd);
      for (let w = 0; w < words; w++) {
        const v = rnd() < 0.7 ? nearSeq(hc, rnd) : Math.floor(rnd() * 2 ** 32);
        writeU32(b, HEADER_SIZE + 4 * w, rnd() < 0.2 ? (v | 0x80000000) >>> 0 : v);
      }
      return { data: b, viaNetwork: false };
    }
    case 'mutate-control': {
      const c = rec.pick(peerSent, rnd, isControl);
      if (!c) return null;
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) {
        const bit = 1 + Math.floor(rnd() * (c.length * 8 - 1)); // never bit 0: it stays a control packet
        c[bit >> 3] ^= 0x80 >> (bit & 7);
      }
      writeU32(c, 12, dst);
      return { data: c, viaNetwork: false };
    }
    case 'truncate': {
      const any = rec.pick(peerSent, rnd, () => true);
      if (!any) return null;
      // Data is cut to its header at most: a shorter payload for a sequence number still missing would be a forgery.
      const max = isData(any) ? HEADER_SIZE : any.length - 1;
      return { data: any.subarray(0, Math.floor(rnd() * (max + 1))).slice(), viaNetwork: false };
    }
  }
}

function runCase(c: Case, harmless: boolean): CaseOutcome {
  const payload = 1456;
  const bound = transferTimeBound({ packets: Math.ceil(c.size / payload), payload, link: c.link, back: c.back });
  const rec = new Recorder();
  let injected = 0;
  let pair: SimPair | null = null;
  const r = runStreamTransfer({
    seed: c.seed,
    bytes: c.size,
    isn: c.isn,
    link: c.link,
    back: c.back,
    options: { connectTimeout: 60_000, idleTimeout: 60_000, linger: harmless ? 3_600_000 : 30_000 },
    until: harmless ? bound + 150_000_000 : Math.min(bound, 300_000_000),
    onSetup: (p) => {
      pair = p;
      const expected = Math.ceil(c.size / payload) * 1.3 + 10;
      const due = c.injections.map((inj) => ({ inj, after: Math.floor(inj.at * expected) })).sort((a, b) => a.after - b.after);
      let sent = 0;
      let next = 0;
      p.net.tamper = (_now, from, _to, data) => {
        rec.add(from, data);
        sent++;
        for (; next < due.length && due[next].after <= sent; next++) fire(due[next].inj);
        return data;
      };
      const fire = (inj: Injection) => {
        p.net.schedule(p.net.now, () => {
          const host = inj.toServer ? p.serverHost : p.clientHost;
          const hc = inj.toServer ? p.server() : p.client;
          if (!hc || hc.closed) return;
          const built = build(inj, hc, rec);
          if (!built) return;
          injected++;
          if (built.viaNetwork) p.net.inject(p.net.now, inj.toServer ? CLIENT_ADDR : SERVER_ADDR, host.address, built.data);
          else host.injectTo(hc, built.data, inj.kind);
        });
      };
    },
  });
  const p = r.pair;
  const problems: string[] = [];
  expectThat(problems, r.mismatchAt < 0, `byte ${r.mismatchAt} read differs from the byte written`);
  expectThat(problems, r.read <= c.size, `read ${r.read} bytes, more than the ${c.size} written`);
  expectThat(problems, p.spins() === 0, `${p.spins()} spins`);
  for (const v of p.violations().slice(0, 5)) problems.push(`invariant: ${v}`);
  if (harmless) {
    expectThat(problems, r.read === c.size, `read ${r.read} of ${c.size} bytes`);
    expectThat(problems, r.completedAt >= 0 && r.completedAt <= bound, `last byte read at ${r.completedAt} µs, bound ${Math.round(bound)} µs`);
    expectThat(problems, p.client.closeReason === 'local-close', `client closed with ${p.client.closeReason}`);
    expectThat(problems, r.run.end === 'idle', `run ended '${r.run.end}'`);
  }
  return { problems, pair, facts: { injected, read: r.read, client: p.client.closeReason, server: p.server()?.closeReason ?? null } };
}

describe('property: injected datagrams', () => {
  it('malformed, out-of-window, stale and misaddressed datagrams change nothing: the transfer completes intact', () => {
    checkScenario(caseArb(HARMLESS), (c) => runCase(c, true));
  });

  it('forged and mutated control packets never throw and never make a wrong byte readable', () => {
    checkScenario(caseArb([...HARMLESS, ...DISTURBING]), (c) => runCase(c, false));
  });
});
