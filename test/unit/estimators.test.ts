// Arrival-speed and packet-pair capacity estimators (spec §6.4) and the RTT update rule (§8.1), hand-computed.
import { describe, expect, it } from 'vitest';
import { ArrivalSpeed, LinkCapacity } from '../../src/ts/core/estimators.js';
import { RttEstimator } from '../../src/ts/core/rtt.js';

/** Feeds arrivals so that the 16-slot ring holds `intervals` in ring order (starting at slot 0). */
function arrivalsWith(intervals: number[]): ArrivalSpeed {
  const a = new ArrivalSpeed();
  let t = 1_000_000;
  a.onArrival(t);
  for (const d of intervals) a.onArrival((t += d));
  return a;
}

/** Feeds probe pairs (seq 16k at t, 16k+1 at t+d) so that the probe ring holds `intervals` in order. */
function probesWith(intervals: number[]): LinkCapacity {
  const c = new LinkCapacity();
  let t = 5_000_000;
  intervals.forEach((d, k) => {
    c.onArrival(16 * (k + 1), t);
    c.onArrival(16 * (k + 1) + 1, t + d);
    t += 100_000;
  });
  return c;
}

const rep = (n: number, v: number) => new Array<number>(n).fill(v);

describe('ArrivalSpeed', () => {
  it('initial state (all intervals 1 s) reports 1 packet/s', () => {
    expect(new ArrivalSpeed().speed()).toBe(1);
  });

  it('steady 1000 µs intervals give 1000 packets/s', () => {
    expect(arrivalsWith(rep(16, 1000)).speed()).toBe(1000);
  });

  it('outliers beyond 8x the median are filtered out', () => {
    // First 15 slots sorted: 12 x 1000, 3 x 100000 -> median (position 8) 1000; keep (125, 8000): the twelve 1000s.
    expect(arrivalsWith([...rep(12, 1000), ...rep(4, 100_000)]).speed()).toBe(1000);
  });

  it('mean of the kept intervals, rounded as libudt: ceil(1e6 / floor(sum / count))', () => {
    // Median 500; keep (62, 4000): 9 x 500 + 3 x 600 = 6300 over 12 -> 525 -> ceil(1904.76) = 1905.
    expect(arrivalsWith([...rep(9, 500), ...rep(3, 600), ...rep(4, 20_000)]).speed()).toBe(1905);
  });

  it('reports 0 unless more than 8 intervals agree with the median', () => {
    // First 15 sorted: 8 x 1000, 7 x 100000 -> median 100000; keep (12500, 800000): only the eight 100000s.
    expect(arrivalsWith([...rep(8, 1000), ...rep(8, 100_000)]).speed()).toBe(0);
    // Nine agree -> reported.
    expect(arrivalsWith([...rep(7, 1000), ...rep(9, 100_000)]).speed()).toBe(10);
  });

  it('the median comes from the first 15 slots of the ring, not the newest 15', () => {
    // Slot 15 (outside the median sample) is 2000; slots 0-14 are 1000 -> median 1000, 2000 is kept (< 8000).
    // Kept: 15 x 1000 + 2000 = 17000 / 16 = 1062 -> ceil(1e6 / 1062) = 942.
    expect(arrivalsWith([...rep(15, 1000), 2000]).speed()).toBe(942);
  });

  it('packets coalesced under one time stamp (GRO, GSO on loopback) share the gap that follows their group', () => {
    // Groups of 8 packets every 400 µs: the sender's spacing is 50 µs, 20,000 packets/s.
    const a = new ArrivalSpeed();
    let t = 1_000_000;
    for (let g = 0; g < 6; g++, t += 400) for (let k = 0; k < 8; k++) a.onArrival(t);
    expect(a.speed()).toBe(20_000);
    // Then a group of 3 and a 300 µs gap (100 µs each): the ring holds 13 x 50 and 3 x 100.
    for (let k = 0; k < 3; k++) a.onArrival(t);
    a.onArrival(t + 300);
    expect(a.speed()).toBe(Math.ceil(1e6 / Math.floor((13 * 50 + 3 * 100) / 16)));
  });
});

describe('LinkCapacity', () => {
  it('initial state (all probes 1000 µs) reports 1000 packets/s', () => {
    expect(new LinkCapacity().capacity()).toBe(1000);
  });

  it('probe pairs 100 µs apart give 10000 packets/s', () => {
    expect(probesWith(rep(64, 100)).capacity()).toBe(10_000);
  });

  it('count starts at 1 with the median as the first sum term; bounds are strict', () => {
    // Ring: 40 x 800 then 24 x 100. First 63 sorted: 23 x 100, 40 x 800 -> median 800; keep (100, 6400) strictly:
    // the 100s sit exactly on m/8 and are dropped. Sum = 800 + 40 x 800 = 32800 over 41 -> 800 -> 1250 packets/s.
    expect(probesWith([...rep(40, 800), ...rep(24, 100)]).capacity()).toBe(1250);
  });

  it('a probe is any 16n+1 after a 16n, consecutive or not', () => {
    const c = new LinkCapacity();
    for (let k = 0; k < 64; k++) {
      c.onArrival(32 * k + 16, 10_000 * k);
      c.onArrival(32 * k + 33, 10_000 * k + 250);
    }
    expect(c.capacity()).toBe(4000);
  });
});

describe('RTT estimator (§8.1)', () => {
  it('starts at 100 ms / 50 ms and updates the variance first, with integer shifts', () => {
    const r = new RttEstimator();
    expect([r.rtt, r.rttVar]).toEqual([100_000, 50_000]);
    r.update(20_000);
    // var = (3*50000 + |20000-100000|) >> 2 = 57500; rtt = (7*100000 + 20000) >> 3 = 90000
    expect([r.rtt, r.rttVar]).toEqual([90_000, 57_500]);
    r.update(20_000);
    // var = (3*57500 + 70000) >> 2 = 60625; rtt = (630000 + 20000) >> 3 = 81250
    expect([r.rtt, r.rttVar]).toEqual([81_250, 60_625]);
    r.update(81_253);
    // var = (181875 + 3) >> 2 = 45469 (floor of 45469.5); rtt = (568750 + 81253) >> 3 = 81250 (floor of 81250.375)
    expect([r.rtt, r.rttVar]).toEqual([81_250, 45_469]);
  });

  it('stays positive for the largest sample an ACK can carry (2^31 - 1 µs)', () => {
    const r = new RttEstimator();
    r.update(0x7fffffff);
    expect(r.rtt).toBe(Math.floor((7 * 100_000 + 0x7fffffff) / 8));
    expect(r.rttVar).toBe(Math.floor((3 * 50_000 + 0x7fffffff - 100_000) / 4));
  });
});
