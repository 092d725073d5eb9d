// UDT native congestion control (spec §9) stepped by hand through a fake CcState.
import { describe, expect, it } from 'vitest';
import type { CongestionController } from '../../src/ts/core/congestion/controller.js';
import { UdtNativeController } from '../../src/ts/core/congestion/udt-native.js';
import { FakeCcState } from '../support/fake-cc-state.js';

const RC = 10_000;
const ISN = 1000;

function setup(over: Partial<FakeCcState> = {}): { cc: CongestionController; s: FakeCcState } {
  const s = Object.assign(new FakeCcState(ISN, { lastArrivalRate: over.recvRate ?? 0 }), over);
  const cc: CongestionController = new UdtNativeController();
  cc.init(s, 0);
  return { cc, s };
}

/** Packets per SYN added by one rate-control step from period p0 to p1. */
const incOf = (p0: number, p1: number) => RC * (1 / p1 - 1 / p0);

/** Leaves slow start through an ACK (cwnd > maxFlowWindow) with period 1e6/recvRate, then one increase step. */
function afterSlowStart(bandwidth: number, recvRate = 1000): { cc: CongestionController; s: FakeCcState; now: number } {
  const { cc, s } = setup({ maxFlowWindow: 16, recvRate, bandwidth });
  s.sndCurr = ISN + 10;
  cc.onAck(ISN + 10, RC);
  return { cc, s, now: RC };
}

describe('UDT native CC: slow start', () => {
  it('starts with cwnd 16 and period 1 µs', () => {
    const { cc } = setup();
    expect(cc.cwnd).toBe(16);
    expect(cc.sendPeriod).toBe(1);
  });

  it('grows cwnd by the inclusive count since the last ACK, at most once per RC interval', () => {
    const { cc } = setup();
    cc.onAck(ISN + 20, RC); // lastAck = ISN-1 -> len(ISN-1, ISN+20) = 22
    expect(cc.cwnd).toBe(38);
    cc.onAck(ISN + 50, RC + 5000); // within RC: ignored
    expect(cc.cwnd).toBe(38);
    cc.onAck(ISN + 50, 2 * RC); // len(ISN+20, ISN+50) = 31
    expect(cc.cwnd).toBe(69);
    expect(cc.sendPeriod).toBe(1);
  });

  it('leaves slow start when cwnd exceeds maxFlowWindow, period = 1e6 / recvRate, then increases in the same call', () => {
    const { cc, s } = setup({ maxFlowWindow: 100, recvRate: 1000, bandwidth: 1000 });
    cc.onAck(ISN + 50, RC); // cwnd 16 + 52 = 68: still slow start
    expect(cc.sendPeriod).toBe(1);
    s.sndCurr = ISN + 100;
    cc.onAck(ISN + 100, 2 * RC); // cwnd 68 + 51 = 119 > 100: exit
    expect(cc.cwnd).toBe(119);
    // period 1000; spare = 1000 - 1e6/1000 = 0 -> inc 0.01 -> p = 1000*RC / (1000*0.01 + RC)
    expect(cc.sendPeriod).toBeCloseTo((1000 * RC) / (1000 * 0.01 + RC), 9);
  });

  it('without a receive rate the exit period is (RTT + RC) / cwnd (the intended form of quirk Q8)', () => {
    const { cc } = setup({ maxFlowWindow: 20, recvRate: 0, bandwidth: 1 });
    cc.onAck(ISN + 10, RC); // cwnd 16 + 12 = 28 > 20
    const p0 = (100_000 + RC) / 28;
    expect(cc.sendPeriod).toBeCloseTo((p0 * RC) / (p0 * 0.01 + RC), 9);
  });

  it('ignores a receive rate the receiver has not measured yet (its start-up report of 1 packet/s)', () => {
    const { cc } = setup({ maxFlowWindow: 20, recvRate: 16, lastArrivalRate: 1, bandwidth: 1 });
    cc.onAck(ISN + 40, RC + 1);
    expect(cc.sendPeriod).toBeLessThan(10_000);
  });

  it('onTimeout in slow start leaves it with period 1e6 / recvRate; later timeouts change nothing', () => {
    const { cc, s } = setup({ recvRate: 2000 });
    cc.onTimeout(50_000);
    expect(cc.sendPeriod).toBe(500);
    s.recvRate = 10;
    cc.onTimeout(60_000);
    expect(cc.sendPeriod).toBe(500);
  });

  it('the first NAK in slow start with a receive rate only leaves slow start (no decrease, no loss flag)', () => {
    const { cc, s } = setup({ recvRate: 1000, bandwidth: 1000 });
    s.sndCurr = ISN + 40;
    cc.onLoss([[ISN + 5, ISN + 6]], 5000);
    expect(cc.sendPeriod).toBe(1000);
    cc.onAck(ISN + 7, RC); // no loss flag: this step increases
    expect(cc.sendPeriod).toBeLessThan(1000);
  });
});

describe('UDT native CC: increase per SYN by spare capacity decade (MSS 1500)', () => {
  // After slow start: period 1000 µs (1000 pkts/s) and lastDecPeriod 1, so spare = min(bw - 1000, bw / 9).
  const cases: Array<[string, number, number]> = [
    ['1-10 Gb/s spare -> 10 packets/SYN', 9 * 200_000, 10], // spare 200000 pkts/s = 2.4 Gb/s
    ['100 Mb/s-1 Gb/s spare -> 1 packet/SYN', 9 * 20_000, 1], // 240 Mb/s
    ['10-100 Mb/s spare -> 0.1 packets/SYN', 9 * 2_000, 0.1], // 24 Mb/s
    ['1-10 Mb/s spare -> 0.01 packets/SYN', 9 * 200, 0.01], // 2.4 Mb/s
    ['below 1 Mb/s spare -> the 0.01 floor', 1050, 0.01], // spare 50 pkts/s = 600 kb/s -> formula 0.001, floored
    ['no spare -> 0.01', 500, 0.01],
  ];
  for (const [name, bandwidth, inc] of cases) {
    it(name, () => {
      const { cc } = afterSlowStart(bandwidth);
      expect(incOf(1000, cc.sendPeriod)).toBeCloseTo(inc, 9);
    });
  }

  it('caps the spare at bandwidth / 9 while the period is above the last decrease period', () => {
    // bw 10000, rate 1000 -> spare 9000 pkts/s (108 Mb/s, which would give 1) capped to 1111 pkts/s (13.3 Mb/s) -> 0.1.
    const { cc } = afterSlowStart(10_000);
    expect(incOf(1000, cc.sendPeriod)).toBeCloseTo(0.1, 9);
  });

  it('after the exit cwnd follows recvRate x (RTT + RC) + 16 on each step', () => {
    const { cc, s, now } = afterSlowStart(9 * 2000);
    s.recvRate = 5000;
    s.rtt = 40_000;
    cc.onAck(ISN + 11, now + RC);
    expect(cc.cwnd).toBeCloseTo((5000 / 1e6) * (40_000 + RC) + 16, 9);
  });
});

describe('UDT native CC: decrease', () => {
  it('a NAK starting a new congestion period multiplies the period by 1.125 (rounded up) and sets the loss flag', () => {
    const { cc, s, now } = afterSlowStart(500);
    const p = cc.sendPeriod;
    s.sndCurr = ISN + 200;
    cc.onLoss([[ISN + 150, ISN + 151]], now + 1);
    expect(cc.sendPeriod).toBe(Math.ceil(p * 1.125));
    // Loss flag: the next RC step does not increase; the one after does.
    const afterLoss = cc.sendPeriod;
    cc.onAck(ISN + 150, now + RC);
    expect(cc.sendPeriod).toBe(afterLoss);
    cc.onAck(ISN + 150, now + 2 * RC);
    expect(cc.sendPeriod).toBeLessThan(afterLoss);
  });

  it('at most 5 decreases per congestion period', () => {
    const { cc, s, now } = afterSlowStart(500);
    s.sndCurr = ISN + 200;
    let expected = cc.sendPeriod;
    for (let k = 0; k < 12; k++) {
      // All NAKs report losses sent before the first decrease: one congestion period. avgNAKNum is 0, so
      // decRandom is 1 and each NAK decreases until the cap.
      cc.onLoss([[ISN + 100 + k, ISN + 100 + k]], now + k);
      if (k < 5) expected = Math.ceil(expected * 1.125);
      expect(cc.sendPeriod).toBe(expected);
    }
  });

  it('a loss beyond the last decrease point starts a new period (decreases again)', () => {
    const { cc, s, now } = afterSlowStart(500);
    s.sndCurr = ISN + 200;
    cc.onLoss([[ISN + 150, ISN + 150]], now);
    const p1 = cc.sendPeriod;
    s.sndCurr = ISN + 400;
    cc.onLoss([[ISN + 300, ISN + 300]], now + 1); // 300 > lastDecSeq (200): new period
    expect(cc.sendPeriod).toBe(Math.ceil(p1 * 1.125));
  });

  it('decRandom spreads decreases: once avgNAKNum reaches 2, with random 0.99 only every 2nd NAK decreases', () => {
    const { cc, s, now } = afterSlowStart(500);
    // NAKCount stops counting once 5 decreases happened (the && short-circuits, as in libudt), so a period ends
    // with NAKCount 5: avgNAKNum goes ceil(0.125*5) = 1, then ceil(0.875 + 0.625) = 2.
    const period = (base: number, naks: number) => {
      s.sndCurr = base + 100;
      for (let k = 0; k < naks; k++) cc.onLoss([[base + k, base + k]], now + base + k);
    };
    period(ISN + 100, 8);
    period(ISN + 300, 8);
    s.randomValue = 0.99;
    period(ISN + 500, 1); // new period: decRandom = ceil(2 * 0.99) = 2
    const start = cc.sendPeriod;
    const expected = [1.125, 1, 1.125, 1, 1, 1]; // NAKCount 2, 3, 4, 5 (decCount reaches 5), then capped
    let p = start;
    for (let k = 1; k <= expected.length; k++) {
      cc.onLoss([[ISN + 500 + k, ISN + 500 + k]], now + 1000 + k);
      if (expected[k - 1] > 1) p = Math.ceil(p * 1.125);
      expect(cc.sendPeriod).toBe(p);
    }
  });

  it('onTimeout after slow start leaves the period alone', () => {
    const { cc, now } = afterSlowStart(500);
    const p = cc.sendPeriod;
    cc.onTimeout(now + 1);
    expect(cc.sendPeriod).toBe(p);
  });
});
