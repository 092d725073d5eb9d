// UDT native CC goodput in virtual time: 100 Mbit/s, 100 ms RTT, drop-tail queue of one BDP.
import { describe, expect, it } from 'vitest';
import { runBulk, type BulkResult } from '../../src/ts/sim/index.js';

const LINK_BPS = 100e6;
const ONE_WAY_US = 50_000;
/** Bandwidth-delay product: 100 Mbit/s x 100 ms = 1.25 MB. */
const BDP_BYTES = (LINK_BPS * 2 * ONE_WAY_US) / 1e6 / 8;
const WARMUP_S = 5;
const DURATION_S = 65;

function run(seed: number, loss: number, timerSlackUs: number, congestion: 'udt' | 'bbr' = 'udt'): BulkResult {
  return runBulk({
    options: { congestion },
    seed,
    link: { rateBps: LINK_BPS, delayUs: ONE_WAY_US, queueBytes: BDP_BYTES, loss },
    back: { rateBps: LINK_BPS, delayUs: ONE_WAY_US, queueBytes: BDP_BYTES },
    timerSlackUs,
    durationUs: DURATION_S * 1e6,
    sampleUs: 1e6,
  });
}

/** Application goodput (payload bits/s) from WARMUP_S to the end, as a fraction of the link rate. */
function goodput(r: BulkResult): number {
  const s = r.samples.slice(WARMUP_S);
  return (s.reduce((a, b) => a + b, 0) * 8) / s.length / LINK_BPS;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

describe('UDT native CC in virtual time (100 Mbit/s, 100 ms RTT, 1-BDP drop-tail queue)', () => {
  // The hosts wake a few µs after each deadline (uniform 0-20 µs), as any real event loop does. With wakes exactly at
  // the deadline the receiver's full ACKs arrive exactly 10 ms apart, ± the sub-µs serialization difference of 32- and
  // 40-byte ACKs, so the sender's "at most one rate increase per 10 ms" gate skips every other ACK and the increase
  // rate halves (libudt's own ACK timer always runs late, so it does not see this). That figure is printed too.
  it('reaches at least 90% of the link after slow start with no loss', () => {
    const results = [1, 2, 3].map((seed) => goodput(run(seed, 0, 20)));
    const exact = goodput(run(1, 0, 0));
    console.log(
      `goodput ${WARMUP_S}-${DURATION_S} s, payload bits / link rate: ${results.map(pct).join(', ')} (seeds 1-3); ` +
        `${pct(exact)} with wakes exactly at deadlines (seed 1)`,
    );
    for (const g of results) expect(g).toBeGreaterThanOrEqual(0.9);
  });

  it('reports goodput under 0.1% and 1% random loss (printed, not asserted)', () => {
    for (const loss of [0.001, 0.01]) {
      const r = run(1, loss, 20);
      const c = r.pair.client.conn.counters;
      console.log(`loss ${loss * 100}%: goodput ${pct(goodput(r))} of the link; ${c.pktRetrans} retransmissions of ${c.pktSent} packets`);
      expect(r.pair.spins()).toBe(0);
    }
  });
});

describe('model-based controller (congestion: "bbr") in virtual time, same path', () => {
  it('keeps at least 90% of the link with no loss and at least 85% under 1% random loss', () => {
    const clean = [1, 2].map((seed) => goodput(run(seed, 0, 20, 'bbr')));
    const lossy = [1, 2].map((seed) => goodput(run(seed, 0.01, 20, 'bbr')));
    const tenth = goodput(run(1, 0.001, 20, 'bbr'));
    console.log(`bbr goodput: no loss ${clean.map(pct).join(', ')}; 0.1% loss ${pct(tenth)}; 1% loss ${lossy.map(pct).join(', ')}`);
    for (const g of clean) expect(g).toBeGreaterThanOrEqual(0.9);
    for (const g of lossy) expect(g).toBeGreaterThanOrEqual(0.85);
  });
});
