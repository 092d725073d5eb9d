// Send and receive buffers: stream coalescing, message boundaries, TTL drop ranges, out-of-order messages, growth/shrink.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/ts/core/config.js';
import { Boundary, MSG_BOUNDARY_SHIFT, MSG_INORDER_BIT, MSG_NO_MASK, msgWord } from '../../src/ts/core/packet.js';
import { InsertResult, RecvBuffer } from '../../src/ts/core/recv-buffer.js';
import { SendBuffer } from '../../src/ts/core/send-buffer.js';
import { seqInc } from '../../src/ts/core/seq.js';
import { SlotPool } from '../../src/ts/core/slot-pool.js';
import { createPair } from '../../src/ts/sim/index.js';

const capOf = (b: object) => (b as unknown as { cap: number }).cap;
const bytes = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 255);

function payloadOf(b: SendBuffer, seq: number): number[] {
  const idx = b.indexOf(seq);
  const out = new Uint8Array(b.payloadSize);
  return Array.from(out.subarray(0, b.copyPayload(idx, out, 0)));
}

const boundaryOf = (w: number) => (w >>> MSG_BOUNDARY_SHIFT) & 3;

describe('SendBuffer', () => {
  const ISN = 0x7ffffffe;

  it('coalesces small stream writes into the unsent last packet', () => {
    const b = new SendBuffer(10, 64, ISN);
    expect(b.writeStream(bytes(4, 0))).toBe(4);
    expect(b.writeStream(bytes(3, 4))).toBe(3);
    expect(b.packets).toBe(1);
    expect(b.takeNew()).toBe(ISN);
    expect(payloadOf(b, ISN)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(boundaryOf(b.msgWordAt(b.indexOf(ISN)))).toBe(Boundary.Solo);
    // Once sent, the packet is frozen: the next write starts a new packet (and message).
    expect(b.writeStream(bytes(5, 7))).toBe(5);
    expect(b.packets).toBe(2);
    expect(b.bufferedBytes).toBe(12);
    expect(b.takeNew()).toBe(0x7fffffff);
    expect(payloadOf(b, 0x7fffffff)).toEqual([7, 8, 9, 10, 11]);
    expect(b.msgWordAt(b.indexOf(0x7fffffff)) & MSG_NO_MASK).toBe(2);
  });

  it('cuts a stream write into full packets marked first / middle / last and stops at the limit', () => {
    const b = new SendBuffer(10, 4, ISN);
    expect(b.writeStream(bytes(25))).toBe(25);
    const seqs = [b.takeNew(), b.takeNew(), b.takeNew()];
    expect(seqs).toEqual([ISN, 0x7fffffff, 0]);
    expect(seqs.map((s) => boundaryOf(b.msgWordAt(b.indexOf(s))))).toEqual([Boundary.First, Boundary.Middle, Boundary.Last]);
    expect(payloadOf(b, 0)).toEqual([20, 21, 22, 23, 24]);
    expect(b.writeStream(bytes(100))).toBe(10); // one packet of room left
    expect(b.freePackets).toBe(0);
    expect(b.writeStream(bytes(5))).toBe(0);
  });

  it('keeps message boundaries, in-order flags and deadlines; refuses a message that does not fit', () => {
    const b = new SendBuffer(10, 5, 100);
    expect(b.writeMessage(bytes(25), 5000, true)).toBe(true);
    expect(b.writeMessage(bytes(7), Infinity, false)).toBe(true);
    expect(b.writeMessage(bytes(11), Infinity, false)).toBe(false); // needs 2, 1 left
    for (let i = 0; i < 4; i++) b.takeNew();
    const words = [100, 101, 102, 103].map((s) => b.msgWordAt(b.indexOf(s)));
    expect(words[0]).toBe(msgWord(Boundary.First, true, 1));
    expect(words[1]).toBe(msgWord(Boundary.Middle, true, 1));
    expect(words[2]).toBe(msgWord(Boundary.Last, true, 1));
    expect(words[3]).toBe(msgWord(Boundary.Solo, false, 2));
    expect(b.deadlineAt(b.indexOf(101))).toBe(5000);
    expect(b.deadlineAt(b.indexOf(103))).toBe(Infinity);
    expect(b.messageBounds(101)).toEqual([100, 102]);
    expect(b.messageBounds(103)).toEqual([103, 103]);
  });

  it('drops a TTL-expired range, counting never-sent packets of it as sent', () => {
    const b = new SendBuffer(10, 16, 50);
    b.writeMessage(bytes(30), 1000, false); // 50..52
    b.writeMessage(bytes(5), Infinity, false); // 53
    expect(b.takeNew()).toBe(50);
    const [first, last] = b.messageBounds(50);
    expect([first, last]).toEqual([50, 52]);
    expect(b.dropRange(first, last)).toBe(52);
    expect(b.unsentPackets).toBe(1);
    expect([50, 51, 52].every((s) => b.isDropped(b.indexOf(s)))).toBe(true);
    expect(b.takeNew()).toBe(53);
  });

  it('releases acknowledged packets, grows with data and shrinks back when empty', () => {
    const b = new SendBuffer(100, 2000, ISN);
    expect(capOf(b)).toBe(0);
    b.writeStream(bytes(600 * 100));
    expect(capOf(b)).toBe(1024);
    for (let i = 0; i < 600; i++) b.takeNew();
    expect(b.ackTo(seqInc(ISN, 100))).toBe(100);
    expect(b.packets).toBe(500);
    expect(b.bufferedBytes).toBe(500 * 100);
    expect(b.ackTo(seqInc(ISN, 50))).toBe(0); // already released
    expect(b.ackTo(seqInc(ISN, 600))).toBe(500);
    expect(b.packets).toBe(0);
    expect(capOf(b)).toBe(0);
  });
});

describe('RecvBuffer', () => {
  const ISN = 0x7ffffffe;
  const solo = (n: number, inOrder = true) => msgWord(Boundary.Solo, inOrder, n);

  it('stream: readable only in order, duplicates and out-of-window packets refused', () => {
    const r = new RecvBuffer(16, ISN, false, null);
    expect(r.insert(0x7fffffff, bytes(4, 10), 0, 4, 0, true)).toBe(InsertResult.Accepted);
    expect(r.readableBytes).toBe(0);
    expect(r.readStream()).toBeNull();
    expect(r.insert(ISN, bytes(3, 0), 0, 3, 0, true)).toBe(InsertResult.Accepted);
    expect(r.readableBytes).toBe(7);
    expect(r.insert(ISN, bytes(3), 0, 3, 0, true)).toBe(InsertResult.Duplicate);
    expect(Array.from(r.readStream(2)!)).toEqual([0, 1]);
    expect(Array.from(r.readStream()!)).toEqual([2, 10, 11, 12, 13]);
    expect(r.insert(ISN, bytes(3), 0, 3, 0, true)).toBe(InsertResult.Duplicate); // behind the read point
    expect(r.insert(seqInc(ISN, 2 + 15), bytes(1), 0, 1, 0, true)).toBe(InsertResult.OutOfWindow);
    expect(r.insert(seqInc(ISN, 2 + 14), bytes(1), 0, 1, 0, true)).toBe(InsertResult.Accepted);
  });

  it('copies non-owned input (into a pool slot when given one) so the caller may reuse its buffer', () => {
    const pool = new SlotPool(8, 4);
    const r = new RecvBuffer(16, 0, false, pool);
    const scratch = bytes(8, 40);
    r.insert(0, scratch, 2, 5, 0, false);
    scratch.fill(0);
    expect(pool.slotsInUse).toBe(1);
    expect(Array.from(r.readStream()!)).toEqual([42, 43, 44, 45, 46]);
    expect(pool.slotsInUse).toBe(0);
  });

  it('message mode: a message is delivered whole once all its packets are in', () => {
    const r = new RecvBuffer(32, 10, true, null);
    const w = (b: number) => msgWord(b, true, 1);
    r.insert(12, bytes(2, 20), 0, 2, w(Boundary.Last), true);
    r.insert(11, bytes(2, 10), 0, 2, w(Boundary.Middle), true);
    expect(r.readMessage()).toBeNull();
    r.insert(10, bytes(2, 0), 0, 2, w(Boundary.First), true);
    const m = r.readMessage()!;
    expect(m.msgNo).toBe(1);
    expect(m.inOrder).toBe(true);
    expect(Array.from(m.data)).toEqual([0, 1, 10, 11, 20, 21]);
    expect(r.readMessage()).toBeNull();
  });

  it('message mode: out-of-order delivery only for messages not flagged in-order', () => {
    const r = new RecvBuffer(32, 10, true, null);
    // Message 1 (in-order, seq 10) is missing; message 2 (seq 11) may overtake it, message 3 (seq 12) may not.
    r.insert(11, bytes(3, 1), 0, 3, solo(2, false), true);
    r.insert(12, bytes(3, 2), 0, 3, solo(3, true), true);
    expect(r.hasReadyMessage).toBe(true);
    expect(r.readMessage()!.msgNo).toBe(2);
    expect(r.readMessage()).toBeNull();
    r.insert(10, bytes(3), 0, 3, solo(1, true), true);
    expect([r.readMessage()!.msgNo, r.readMessage()!.msgNo]).toEqual([1, 3]);
    expect(r.readMessage()).toBeNull();
  });

  it('message mode: a dropped message is skipped and reported once; a later one is still delivered', () => {
    const r = new RecvBuffer(32, 10, true, null);
    // Message 1 spans 10..12; 10 and 12 arrived, 11 never will (sender dropped it on TTL).
    r.insert(10, bytes(2), 0, 2, msgWord(Boundary.First, true, 1), true);
    r.insert(12, bytes(2), 0, 2, msgWord(Boundary.Last, true, 1), true);
    r.insert(13, bytes(2, 9), 0, 2, solo(2), true);
    expect(r.readMessage()).toBeNull();
    expect(r.markDropped(10, 12, 1)).toBe(3);
    const m = r.readMessage()!;
    expect(m.msgNo).toBe(2);
    expect(Array.from(m.data)).toEqual([9, 10]);
    expect(r.droppedMsgNos).toEqual([1]);
    // A packet of the dropped message arriving late is ignored.
    expect(r.insert(11, bytes(2), 0, 2, msgWord(Boundary.Middle, true, 1), true)).toBe(InsertResult.Duplicate);
  });

  it("message mode: a libudt drop request one packet too long (Q6) that swallows a one-packet message reports it too", () => {
    const r = new RecvBuffer(32, 10, true, null);
    // Message 5 is 10..11, message 6 is 12 alone, message 7 is 13. Only 10 and 13 arrive; libudt then asks to drop
    // message 5 from the lost packet 11 to 12 (one past its end), so 6 is never retransmitted.
    r.insert(10, bytes(2), 0, 2, msgWord(Boundary.First, true, 5), true);
    r.insert(13, bytes(2, 7), 0, 2, solo(7), true);
    r.markDropped(11, 12, 5);
    expect(r.readMessage()!.msgNo).toBe(7);
    expect(r.droppedMsgNos).toEqual([5, 6]);
  });

  it('grows with packets held, returns pool slots once read, and shrinks back when trimmed (idle)', () => {
    const pool = new SlotPool(16, 64);
    const r = new RecvBuffer(2048, ISN, false, pool);
    expect(capOf(r)).toBe(0);
    for (let i = 599; i >= 0; i--) r.insert(seqInc(ISN, i), bytes(16, i), 0, 16, 0, false);
    expect(capOf(r)).toBe(1024);
    expect(pool.slotsInUse).toBe(600);
    expect(r.occupiedSlots).toBe(600);
    const all = r.readStream()!;
    expect(all.length).toBe(600 * 16);
    expect(all[16 * 599]).toBe(599 & 255);
    expect(pool.slotsInUse).toBe(0);
    expect(r.occupiedSlots).toBe(0);
    expect(capOf(r)).toBe(1024);
    r.trim();
    expect(capOf(r)).toBe(0);
  });

  it('stream: full packets in order go once into a chunk and reads return views of it', () => {
    const PAY = 10;
    const r = new RecvBuffer(256, ISN, false, new SlotPool(PAY, 8), PAY);
    const rx = new Uint8Array(64);
    const feed = (i: number) => {
      rx.fill(i & 255);
      return r.insert(seqInc(ISN, i), rx, 3, PAY, 0, false);
    };
    for (let i = 0; i < 5; i++) expect(feed(i)).toBe(InsertResult.Accepted);
    // The first chunk after an idle spell holds 2 packets, the next 4: a read returns at most one chunk's bytes.
    const a = r.readStream(15)!;
    expect(Array.from(a)).toEqual([...Array(10).fill(0), ...Array(5).fill(1)]);
    const b = r.readStream()!;
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + 15);
    expect(Array.from(b)).toEqual(Array(5).fill(1));
    const c = r.readStream()!;
    expect(Array.from(c)).toEqual([...Array(10).fill(2), ...Array(10).fill(3), ...Array(10).fill(4)]);
    // A hole: 6 arrives early (a pool slot), 5 fills the hole; all read back in order, the early bytes intact.
    expect(feed(6)).toBe(InsertResult.Accepted);
    expect(feed(5)).toBe(InsertResult.Accepted);
    for (let i = 7; i < 80; i++) feed(i);
    rx.fill(0xee);
    const rest: number[] = [];
    for (let v; (v = r.readStream()); ) rest.push(...v);
    expect(rest).toEqual(Array.from({ length: 75 * PAY }, (_, k) => (5 + Math.floor(k / PAY)) & 255));
    // Bytes handed out earlier are never written again.
    expect(Array.from(a.subarray(0, 10))).toEqual(Array(10).fill(0));
    r.trim();
    expect(capOf(r)).toBe(0);
  });
});

describe('TTL drops through a connection', () => {
  it('a message whose TTL ran out before it was sent surfaces as message-dropped; the next one arrives', () => {
    const pair = createPair({ seed: 5, link: { delayUs: 5000 }, options: { mode: 'message' } });
    const got: number[] = [];
    const dropped: number[] = [];
    let sent = false;
    pair.clientHost.app = {
      onService(hc, now) {
        if (hc.conn.state !== 'connected' || sent) return;
        sent = true;
        expect(hc.conn.sendMessage(bytes(3000), now, 0, true)).toBe(true);
        expect(hc.conn.sendMessage(bytes(10), now, -1, true)).toBe(true);
      },
    };
    pair.serverHost.app = {
      onService(hc) {
        let m;
        while ((m = hc.conn.readMessage())) got.push(m.msgNo);
      },
      onEvent(_hc, ev) {
        if (ev.type === 'message-dropped') dropped.push(ev.msgNo);
      },
    };
    pair.net.run({ until: 2_000_000 });
    expect(got).toEqual([2]);
    expect(dropped).toEqual([1]);
    expect(pair.client.conn.counters.msgSendDropped).toBe(1);
    expect(pair.server()!.conn.counters.msgRecvDropped).toBe(1);
  });

  it('resolveConfig keeps buffer sizes in packets of MSS - 28', () => {
    const cfg = resolveConfig({ mss: 1028, sendBufferSize: 100_000, receiveBufferSize: 1_000_000, flowWindow: 500 });
    expect(cfg.payloadSize).toBe(984);
    expect(cfg.sndBufPackets).toBe(100);
    expect(cfg.rcvBufPackets).toBe(500);
  });
});
