// Model-based (BBR-like) congestion control stepped through a fake CcState: a steady path, loss holes, RTT sources.
import { describe, expect, it } from 'vitest';
import type { CongestionController } from '../../src/ts/core/congestion/controller.js';
import { CountHistory } from '../../src/ts/core/congestion/count-history.js';
import { ModelBasedController } from '../../src/ts/core/congestion/model-based.js';
import { FakeCcState } from '../support/fake-cc-state.js';

const ISN = 1000;
const ACK_US = 10_000;
/** 100 Mbit/s of 1500-byte packets. */
const RATE = 8333;
const RTT = 100_000;
const BDP = (RATE * RTT) / 1e6;

interface Run {
  cc: CongestionController;
  s: FakeCcState;
  now: number;
}

/**
 * A path that delivers RATE packets/s with one BDP in flight: every ACK interval RATE/100 more packets are sent and
 * as many acknowledged. `rtts` gives the two RTT sources per step (our own sample, the receiver's report).
 */
function steady(r: Run, us: number, rtts: () => [number, number] = () => [RTT, RTT]): void {
  const step = RATE / (1e6 / ACK_US);
  for (const end = r.now + us; r.now < end; ) {
    r.now += ACK_US;
    const s = r.s;
    s.sentPackets += step;
    s.sndCurr = ISN + Math.round(s.sentPackets) - 1;
    s.deliveredPackets = Math.max(0, s.sentPackets - BDP);
    s.sndLastAck = ISN + Math.round(s.deliveredPackets);
    s.flightSize = s.sndCurr - s.sndLastAck + 1;
    [s.lastRttSample, s.lastReportedRtt] = rtts();
    r.cc.onAck(s.sndLastAck, r.now);
  }
}

function started(): Run {
  const s = new FakeCcState(ISN, { rtt: RTT, rttVar: 1000, lastRttSample: RTT, lastReportedRtt: RTT, recvRate: RATE, lastArrivalRate: RATE, bandwidth: RATE });
  const cc: CongestionController = new ModelBasedController();
  cc.init(s, 0);
  const r = { cc, s, now: 0 };
  steady(r, 3_000_000);
  return r;
}

/** Packets per second the sender emits at the controller's period: UDT sends 16 packets per 15 periods. */
const sendRate = (cc: CongestionController) => 16e6 / (15 * cc.sendPeriod);

describe('model-based CC on a steady path', () => {
  it('cruises at the measured rate, counting the packet pair UDT sends every 16 packets', () => {
    const r = started();
    const rates = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      steady(r, ACK_US);
      const gain = Math.round((sendRate(r.cc) / RATE) * 100) / 100;
      rates.set(gain, (rates.get(gain) ?? 0) + 1);
    }
    const [mostCommon] = [...rates.entries()].sort((a, b) => b[1] - a[1])[0];
    expect(mostCommon).toBe(1);
    expect([...rates.keys()].sort()).toEqual([0.75, 1, 1.25]);
  });

  it('keeps about two BDPs in flight as its window', () => {
    const r = started();
    expect(r.cc.cwnd).toBeGreaterThan(2 * BDP);
    expect(r.cc.cwnd).toBeLessThan(2 * BDP + 32);
  });
});

describe('model-based CC and loss holes', () => {
  /** The cumulative ACK stops at `hole` while `ahead` more packets go out; a NAK for `hole` says hole+1 arrived. */
  function openHole(r: Run, ahead: number): number {
    const s = r.s;
    const hole = s.sndLastAck;
    s.sentPackets += ahead;
    s.sndCurr += ahead;
    s.flightSize += ahead;
    s.nakLostPackets += 1;
    r.cc.onLoss([[hole, hole]], r.now);
    return hole;
  }

  it('does not count what the receiver has behind a hole as in flight', () => {
    const r = started();
    const before = r.cc.cwnd;
    const hole = openHole(r, 1000);
    const arrived = 700;
    r.cc.onLoss([[hole + arrived - 1, hole + arrived - 1]], r.now);
    expect(r.cc.cwnd).toBeGreaterThanOrEqual(before + arrived);
  });

  it('stops doing so once a round loses more than random loss explains', () => {
    const r = started();
    const before = r.cc.cwnd;
    const hole = openHole(r, 1000);
    r.s.nakLostPackets += 0.1 * BDP;
    r.cc.onLoss([[hole + 699, hole + 699]], r.now);
    expect(r.cc.cwnd).toBeLessThanOrEqual(before);
  });
});

describe('model-based CC: min RTT upkeep', () => {
  /** The smallest window seen while the path runs for `us` with the given RTT sources. */
  function smallestWindow(rtts: () => [number, number], us: number): number {
    const r = started();
    let least = Infinity;
    for (let t = 0; t < us; t += ACK_US) {
      steady(r, ACK_US, rtts);
      least = Math.min(least, r.cc.cwnd);
    }
    return least;
  }

  it('needs no ProbeRTT when only our own samples are lengthened by hole repairs', () => {
    expect(smallestWindow(() => [2.5 * RTT, RTT + 2000], 15_000_000)).toBeGreaterThan(2 * BDP);
  });

  it('runs ProbeRTT when the receiver too has seen no sample near the minimum for 10 s', () => {
    expect(smallestWindow(() => [1.3 * RTT, 1.3 * RTT], 15_000_000)).toBeLessThan(BDP);
  });
});

describe('CountHistory', () => {
  it('interpolates counts between records and gives rates over past spans', () => {
    const h = new CountHistory(4);
    h.record(0, 0);
    h.record(10_000, 100);
    h.record(20_000, 300);
    expect(h.at(15_000)).toBe(200);
    expect(h.rate(10_000, 20_000)).toBe(20_000);
    expect(h.rate(5_000, 15_000)).toBe(15_000);
  });

  it('forgets the oldest records and reports no rate before them', () => {
    const h = new CountHistory(2);
    h.record(0, 0);
    h.record(10_000, 100);
    h.record(20_000, 200);
    expect(Number.isNaN(h.at(5_000))).toBe(true);
    expect(h.rate(5_000, 20_000)).toBe(0);
    expect(h.at(30_000)).toBe(200);
  });
});
