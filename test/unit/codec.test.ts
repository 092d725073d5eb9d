// Codec golden tests: spec Appendix A captures decode to their fields and re-encode byte for byte; malformed input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToIp,
  compressLoss,
  decodePacket,
  encodePacket,
  ipToBytes,
  nakRanges,
  type Packet,
} from '../../src/ts/core/packet.js';

const C = 0x0e42bb86;
const S = 0x185ae66e;
const I = 0x55c8eb48;
const K = 0x7248b947;

function hex(words: string): Uint8Array {
  const clean = words.replace(/[|\s]/g, '');
  return Uint8Array.from(clean.match(/../g)!.map((b) => parseInt(b, 16)));
}

function decodeOk(bytes: Uint8Array): Packet {
  const p = decodePacket(bytes);
  if (p.kind === 'malformed') throw new Error(`malformed: ${p.reason}`);
  return p;
}

function expectRoundTrip(bytes: Uint8Array): Packet {
  const p = decodeOk(bytes);
  expect(Buffer.from(encodePacket(p)).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
  return p;
}

const HS_REQ = '80000000 00000000 00000000 00000000 | 00000004 00000001 55c8eb48 000005dc 00002000 00000001 0e42bb86 00000000 0100007f 00000000 00000000 00000000';
const HS_CHALLENGE = '80000000 00000000 00000000 0e42bb86 | 00000004 00000001 55c8eb48 000005dc 00002000 00000001 0e42bb86 7248b947 0100007f 00000000 00000000 00000000';
const HS_MINUS1 = '80000000 00000000 00000000 00000000 | 00000004 00000001 55c8eb48 000005dc 00002000 ffffffff 0e42bb86 7248b947 0100007f 00000000 00000000 00000000';
const HS_RESPONSE = '80000000 00000000 00000000 0e42bb86 | 00000004 00000001 55c8eb48 000005dc 00002000 ffffffff 185ae66e 7248b947 0100007f 00000000 00000000 00000000';

describe('codec: spec Appendix A captures', () => {
  const handshakes: Array<[string, string, number, number, number, number]> = [
    // name, hex, dst, reqType, socketId, cookie
    ['request', HS_REQ, 0, 1, C, 0],
    ['cookie challenge', HS_CHALLENGE, C, 1, C, K],
    ['request -1', HS_MINUS1, 0, -1, C, K],
    ['response', HS_RESPONSE, C, -1, S, K],
  ];
  for (const [name, text, dst, reqType, socketId, cookie] of handshakes) {
    it(`handshake ${name}`, () => {
      const bytes = hex(text);
      expect(bytes.length).toBe(64);
      const p = expectRoundTrip(bytes);
      if (p.kind !== 'handshake') throw new Error(p.kind);
      expect(p.dst).toBe(dst);
      expect(p.info).toBe(0);
      expect(p.hs).toMatchObject({ version: 4, sockType: 1, isn: I, mss: 1500, flowWindow: 8192, reqType, socketId, cookie });
      expect(bytesToIp(p.hs.peerIp)).toBe('127.0.0.1');
    });
  }

  it('data packet: seq I, first of message 1, timestamp 14493', () => {
    const payload = Uint8Array.from({ length: 1456 }, (_, i) => (i * 31) & 255);
    const bytes = new Uint8Array(16 + 1456);
    bytes.set(hex('55c8eb48 80000001 0000389d 185ae66e'));
    bytes.set(payload, 16);
    const p = expectRoundTrip(bytes);
    expect(p).toMatchObject({ kind: 'data', seq: I, boundary: 2, inOrder: false, msgNo: 1, timestamp: 14493, dst: S });
    if (p.kind === 'data') expect(Buffer.compare(Buffer.from(p.payload), Buffer.from(payload))).toBe(0);
  });

  it('DGRAM message words 0xE0000001 / 0x80000002 / 0x40000002 / 0xA0000003 / 0x20000003 / 0x60000003', () => {
    const cases: Array<[string, number, boolean, number]> = [
      ['e0000001', 3, true, 1],
      ['80000002', 2, false, 2],
      ['00000002', 0, false, 2],
      ['40000002', 1, false, 2],
      ['a0000003', 2, true, 3],
      ['20000003', 0, true, 3],
      ['60000003', 1, true, 3],
    ];
    for (const [w1, boundary, inOrder, msgNo] of cases) {
      const p = expectRoundTrip(hex(`00000007 ${w1} 00000000 00000001 aabbccdd`));
      expect(p).toMatchObject({ kind: 'data', boundary, inOrder, msgNo });
    }
  });

  it('full ACK (24-byte body) with the initial values', () => {
    const p = expectRoundTrip(hex('80020000 00000001 00000000 0e42bb86 | 55c8eb49 000186a0 0000c350 00001fff 00000001 000003e8'));
    expect(p).toMatchObject({ kind: 'ack', light: false, ackSeq: 1, ackNo: I + 1, rtt: 100000, rttVar: 50000, avail: 8191, rate: 1, capacity: 1000, dst: C });
  });

  it('full ACK, 16-byte body form', () => {
    const p = expectRoundTrip(hex('80020000 00000005 00000000 0e42bb86 | 55c8eb49 000186a0 0000c350 00001fff'));
    expect(p).toMatchObject({ kind: 'ack', light: false, ackSeq: 5, ackNo: I + 1, avail: 8191, rate: -1, capacity: -1 });
  });

  it('ACK2', () => {
    const p = expectRoundTrip(hex('80060000 00000001 00000000 185ae66e | 00000000'));
    expect(p).toMatchObject({ kind: 'ack2', ackSeq: 1, dst: S });
  });

  it('NAK range I+5..I+7 and single', () => {
    const r = expectRoundTrip(hex('80030000 00000000 00000000 0e42bb86 | d5c8eb4d 55c8eb4f'));
    if (r.kind !== 'nak') throw new Error(r.kind);
    expect(r.entries).toEqual([0xd5c8eb4d, 0x55c8eb4f]);
    expect(nakRanges(r.entries)).toEqual([[I + 5, I + 7]]);
    const s = expectRoundTrip(hex('80030000 00000000 00000000 0e42bb86 | 55c8eb70'));
    if (s.kind !== 'nak') throw new Error(s.kind);
    expect(nakRanges(s.entries)).toEqual([[0x55c8eb70, 0x55c8eb70]]);
  });

  it('draft NAK example 2, 6..11, 14 and compressLoss', () => {
    const entries = [0x00000002, 0x80000006, 0x0000000b, 0x0000000e];
    expect(nakRanges(entries)).toEqual([[2, 2], [6, 11], [14, 14]]);
    expect(compressLoss([[2, 2], [6, 11], [14, 14]])).toEqual(entries);
  });

  it('light ACK: w1 = 0, 4-byte body', () => {
    const p = expectRoundTrip(hex(`80020000 00000000 00000000 0e42bb86 | ${(I + 100).toString(16)}`));
    expect(p).toMatchObject({ kind: 'ack', light: true, ackSeq: 0, ackNo: I + 100, dst: C });
  });

  it('keep-alive and shutdown (20-byte form), also accepted without a body', () => {
    expect(expectRoundTrip(hex('80010000 00000000 00000000 185ae66e | 00000000'))).toMatchObject({ kind: 'keepalive', dst: S });
    expect(expectRoundTrip(hex('80050000 00000000 00000000 185ae66e | 00000000'))).toMatchObject({ kind: 'shutdown', dst: S });
    expect(decodePacket(hex('80010000 00000000 00000000 185ae66e'))).toMatchObject({ kind: 'keepalive' });
    expect(decodePacket(hex('80050000 00000000 00000000 185ae66e'))).toMatchObject({ kind: 'shutdown' });
  });

  it('message drop, error, user-defined and congestion warning', () => {
    const drop = expectRoundTrip(hex('80070000 00000003 00000000 185ae66e | 00000010 00000014'));
    expect(drop).toMatchObject({ kind: 'drop', msgNo: 3, first: 16, last: 20, dst: S });
    const err = expectRoundTrip(hex('80080000 00000fa0 00000000 185ae66e | 00000000'));
    expect(err).toMatchObject({ kind: 'error', code: 4000, dst: S });
    const user = expectRoundTrip(hex('ffff0012 00000009 00000000 185ae66e | 01020304 05060708'));
    expect(user).toMatchObject({ kind: 'user', extType: 0x12, info: 9, dst: S });
    if (user.kind === 'user') expect(Array.from(user.body)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(expectRoundTrip(hex('80040000 00000000 00000000 185ae66e | 00000000'))).toMatchObject({ kind: 'cwarn', dst: S });
  });
});

describe('codec: handshake peer-IP byte order (§5.2)', () => {
  function handshakeWithIp(ip: string): Uint8Array {
    return encodePacket({
      kind: 'handshake',
      dst: 0,
      info: 0,
      hs: { version: 4, sockType: 1, isn: 1, mss: 1500, flowWindow: 8192, reqType: 1, socketId: 2, cookie: 0, peerIp: ipToBytes(ip) },
    });
  }

  it('IPv4: the four address bytes reversed in word 8, words 9-11 zero', () => {
    const b = handshakeWithIp('192.168.10.77');
    expect(Array.from(b.subarray(48, 64))).toEqual([77, 10, 168, 192, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const p = decodeOk(b);
    if (p.kind === 'handshake') expect(bytesToIp(p.hs.peerIp)).toBe('192.168.10.77');
  });

  it('IPv6: each 4-byte group reversed inside its word', () => {
    const ip = '2001:db8:85a3:1:2:8a2e:370:7334';
    const natural = ipToBytes(ip);
    expect(Array.from(natural)).toEqual([0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3, 0x00, 0x01, 0x00, 0x02, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x34]);
    const b = handshakeWithIp(ip);
    expect(Array.from(b.subarray(48, 64))).toEqual([0xb8, 0x0d, 0x01, 0x20, 0x01, 0x00, 0xa3, 0x85, 0x2e, 0x8a, 0x02, 0x00, 0x34, 0x73, 0x70, 0x03]);
    const p = decodeOk(b);
    if (p.kind !== 'handshake') throw new Error(p.kind);
    expect(Array.from(p.hs.peerIp)).toEqual(Array.from(natural));
  });

  it('IPv4-mapped IPv6 is written as IPv4', () => {
    expect(Array.from(ipToBytes('::ffff:127.0.0.1').subarray(0, 4))).toEqual([127, 0, 0, 1]);
  });
});

describe('codec: malformed input', () => {
  const cases: Array<[string, string, string]> = [
    ['shorter than a header', '80020000 00000000 000000', 'short'],
    ['data with no payload', '00000001 80000001 00000000 00000001', 'empty-data'],
    ['handshake body of 44 bytes', `80000000 00000000 00000000 00000000 | ${'00000000 '.repeat(11)}`, 'handshake-size'],
    ['handshake body of 52 bytes', `80000000 00000000 00000000 00000000 | ${'00000000 '.repeat(13)}`, 'handshake-size'],
    ['ACK body of 8 bytes', '80020000 00000001 00000000 00000001 | 00000001 00000002', 'ack-size'],
    ['ACK with no body', '80020000 00000001 00000000 00000001', 'ack-size'],
    ['NAK with no body', '80030000 00000000 00000000 00000001', 'nak-size'],
    ['NAK body not whole words', '80030000 00000000 00000000 00000001 | 00000001 0002', 'body-alignment'],
    ['NAK range without an end', '80030000 00000000 00000000 00000001 | 00000001 80000005', 'nak-range'],
    ['NAK range followed by a range start', '80030000 00000000 00000000 00000001 | 80000001 80000005 00000007', 'nak-range'],
    ['message drop body of 4 bytes', '80070000 00000001 00000000 00000001 | 00000001', 'drop-size'],
    ['unknown control type 9', '80090000 00000000 00000000 00000001 | 00000000', 'unknown-type'],
    ['unknown control type 0x7ffe', 'fffe0000 00000000 00000000 00000001 | 00000000', 'unknown-type'],
  ];
  for (const [name, text, reason] of cases) {
    it(name, () => {
      expect(decodePacket(hex(text))).toEqual({ kind: 'malformed', reason });
    });
  }

  it('decodes at an offset and length inside a larger buffer', () => {
    const inner = hex('80060000 00000007 00000000 185ae66e | 00000000');
    const big = new Uint8Array(100).fill(0xff);
    big.set(inner, 33);
    expect(decodePacket(big, 33, inner.length)).toMatchObject({ kind: 'ack2', ackSeq: 7, dst: S });
    expect(decodePacket(big, 33, 15)).toEqual({ kind: 'malformed', reason: 'short' });
  });

  it('random bytes never throw and always give a known kind', () => {
    const kinds = new Set(['data', 'handshake', 'keepalive', 'ack', 'nak', 'cwarn', 'shutdown', 'ack2', 'drop', 'error', 'user', 'malformed']);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 96 }), fc.nat(8), (bytes, off) => {
        const buf = new Uint8Array(off + bytes.length);
        buf.set(bytes, off);
        const p = decodePacket(buf, off, bytes.length);
        expect(kinds.has(p.kind)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('control headers with random bodies never throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x7fff), fc.uint8Array({ maxLength: 64 }), (type, body) => {
        const b = new Uint8Array(16 + body.length);
        b[0] = 0x80 | (type >> 8);
        b[1] = type & 0xff;
        b.set(body, 16);
        decodePacket(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('well-formed packets round-trip through encode and decode', () => {
    const u31 = fc.integer({ min: 0, max: 0x7fffffff });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    const pos31 = fc.integer({ min: 0, max: 0x7fffffff });
    const packet: fc.Arbitrary<Packet> = fc.oneof(
      fc.record({
        kind: fc.constant('data' as const),
        seq: u31,
        boundary: fc.integer({ min: 0, max: 3 }),
        inOrder: fc.boolean(),
        msgNo: fc.integer({ min: 0, max: 0x1fffffff }),
        timestamp: u32,
        dst: u32,
        payload: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      }),
      fc.record({
        kind: fc.constant('ack' as const),
        dst: u32,
        ackSeq: fc.integer({ min: 1, max: 0x7fffffff }),
        ackNo: u31,
        light: fc.constant(false),
        rtt: pos31,
        rttVar: pos31,
        avail: pos31,
        rate: pos31,
        capacity: pos31,
      }),
      fc.record({ kind: fc.constant('ack2' as const), dst: u32, ackSeq: u32 }),
      fc.record({ kind: fc.constant('drop' as const), dst: u32, msgNo: fc.integer({ min: 0, max: 0x1fffffff }), first: u31, last: u31 }),
      fc.record({ kind: fc.constant('error' as const), dst: u32, code: i32 }),
      fc.record({
        kind: fc.constant('nak' as const),
        dst: u32,
        entries: fc.array(fc.tuple(u31, u31), { minLength: 1, maxLength: 6 }).map((rs) => compressLoss(rs.map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]))),
      }),
    );
    fc.assert(
      fc.property(packet, (p) => {
        const bytes = encodePacket(p);
        const q = decodePacket(bytes);
        expect(q).toEqual(p.kind === 'data' ? { ...p, payload: q.kind === 'data' ? q.payload : null } : p);
        if (p.kind === 'data' && q.kind === 'data') expect(Array.from(q.payload)).toEqual(Array.from(p.payload));
        expect(Array.from(encodePacket(q as Packet))).toEqual(Array.from(bytes));
      }),
      { numRuns: 1000 },
    );
  });
});
