// Shared pieces of the simulator property tests: run counts, link/option arbitraries, and failure reports with traces.
import fc from 'fast-check';
import type { ConnectionOptions } from '../../src/ts/core/config.js';
import type { LinkConfig } from '../../src/ts/sim/index.js';
import type { SimPair } from '../../src/ts/sim/scenario.js';

/** Runs per property: UDT_PROP_RUNS overrides the default of 200. */
export const RUNS = Math.max(1, Number(process.env.UDT_PROP_RUNS ?? 200) | 0);
/**
 * fast-check seed: fixed by default so CI runs are reproducible; UDT_PROP_SEED=<n> replays a printed failure and
 * UDT_PROP_SEED=random explores new cases.
 */
const SEED_ENV = process.env.UDT_PROP_SEED ?? '20261124';
export const SEED = SEED_ENV === 'random' ? undefined : Number(SEED_ENV);
/** With a seed, the counterexample path replays just the failing case. */
const PATH = process.env.UDT_PROP_PATH;
/** Trace lines printed for a failing case. */
const TRACE_LINES = Number(process.env.UDT_PROP_TRACE ?? 80);

export interface CaseOutcome {
  problems: string[];
  pair: SimPair | null;
  /** Extra facts printed with a failure. */
  facts?: Record<string, unknown>;
}

/**
 * Checks `runCase` for every generated parameter set. On failure fast-check shrinks to a minimal case, which is run
 * again to print the seed, the parameters, what went wrong and the last trace lines.
 */
export function checkScenario<T>(arb: fc.Arbitrary<T>, runCase: (p: T) => CaseOutcome, runs = RUNS): void {
  const safeRun = (p: T): CaseOutcome => {
    let pair: SimPair | null = null;
    try {
      const out = runCase(p);
      return out;
    } catch (e) {
      pair = (e as { pair?: SimPair }).pair ?? null;
      return { problems: [`threw: ${(e as Error).stack ?? String(e)}`], pair };
    }
  };
  const details = fc.check(
    fc.property(arb, (p) => safeRun(p).problems.length === 0),
    { numRuns: runs, seed: SEED, path: SEED === undefined ? undefined : PATH },
  );
  if (!details.failed) return;
  const params = details.counterexample![0];
  const out = safeRun(params);
  const lines = [
    `property failed after ${details.numRuns} runs and ${details.numShrinks} shrinks`,
    `replay: UDT_PROP_SEED=${details.seed} UDT_PROP_PATH=${details.counterexamplePath}`,
    `parameters: ${JSON.stringify(params, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`,
    ...(out.facts ? [`facts: ${JSON.stringify(out.facts)}`] : []),
    'problems:',
    ...out.problems.slice(0, 20).map((p) => `  - ${p}`),
  ];
  if (out.pair) lines.push(`last ${TRACE_LINES} trace lines:`, out.pair.net.trace.format(TRACE_LINES));
  throw new Error(lines.join('\n'));
}

/** Records a problem when `ok` is false. */
export function expectThat(problems: string[], ok: boolean, what: string): void {
  if (!ok) problems.push(what);
}

const probability = (max: number) => fc.double({ min: 0, max, noNaN: true });

/** Bursty loss with short bad periods (mean 2-5 datagrams) so the connection never goes silent for long. */
export const gilbertArb = fc.record({
  pGoodToBad: fc.double({ min: 0.001, max: 0.05, noNaN: true }),
  pBadToGood: fc.double({ min: 0.2, max: 0.6, noNaN: true }),
  lossBad: fc.double({ min: 0.5, max: 1, noNaN: true }),
});

/** One direction of a path: rate, queue, delay, jitter, loss (≤ 30% on average), duplication. */
export const linkArb = (maxLoss = 0.3): fc.Arbitrary<LinkConfig> =>
  fc
    .record({
      rateBps: fc.constantFrom(0, 2e6, 10e6, 100e6, 1e9),
      delayUs: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 100_000 })),
      jitterUs: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }) }),
      queuePackets: fc.integer({ min: 8, max: 2000 }),
      lossKind: fc.constantFrom('none', 'bernoulli', 'gilbert', 'both'),
      loss: probability(maxLoss),
      gilbert: gilbertArb,
      duplicate: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: probability(0.1) }),
    })
    .map(({ lossKind, loss, gilbert, ...rest }) => {
      const cfg: LinkConfig = { ...rest };
      if (lossKind === 'bernoulli' || lossKind === 'both') cfg.loss = lossKind === 'both' ? loss / 3 : loss;
      if (lossKind === 'gilbert' || lossKind === 'both') cfg.gilbert = gilbert;
      return cfg;
    });

/** Long-run loss rate of a link (Bernoulli plus the Gilbert–Elliott steady state). */
export function averageLoss(l: LinkConfig): number {
  const b = l.loss ?? 0;
  const g = l.gilbert;
  const ge = g ? (g.pGoodToBad / (g.pGoodToBad + g.pBadToGood)) * (g.lossBad ?? 1) : 0;
  return 1 - (1 - b) * (1 - ge);
}

/** Core options that stress limits: small buffers and flow windows sometimes. Time-outs and linger are generous. */
export const optionsArb: fc.Arbitrary<ConnectionOptions> = fc.record({
  mss: fc.oneof(
    { weight: 3, arbitrary: fc.constant(1500) },
    { weight: 2, arbitrary: fc.integer({ min: 76, max: 1500 }) },
    { weight: 1, arbitrary: fc.constantFrom(76, 9000) },
  ),
  bufferPackets: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 32, max: 400 }) }),
  flowWindow: fc.oneof({ weight: 3, arbitrary: fc.constant(25600) }, { weight: 1, arbitrary: fc.integer({ min: 32, max: 500 }) }),
}).map(({ mss, bufferPackets, flowWindow }) => {
  const o: ConnectionOptions = { mss, flowWindow, connectTimeout: 60_000, idleTimeout: 60_000, linger: 3_600_000 };
  if (bufferPackets > 0) {
    o.sendBufferSize = bufferPackets * (mss - 28);
    o.receiveBufferSize = bufferPackets * (mss - 28);
  }
  return o;
});

/** An initial sequence number: anywhere, or just before the 31-bit wrap. */
export const isnArb = fc.oneof(fc.integer({ min: 0, max: 0x7fffffff }), fc.integer({ min: 0x7fffffff - 4000, max: 0x7fffffff }));

export interface TransferShape {
  packets: number;
  /** Payload bytes per packet (negotiated MSS - 44). */
  payload: number;
  link: LinkConfig;
  back: LinkConfig;
  /** Time the application itself adds (a slow reader's schedule), µs. */
  extraUs?: number;
}

/**
 * Virtual time by which a transfer must be complete, µs. Built from the parts of a transfer:
 * - connecting: up to 12 handshake rounds of 250 ms retries, plus 4 RTTs;
 * - serialization of every packet at the bottleneck, doubled for retransmissions and packet pairs;
 * - the rate UDT native CC can hold under loss: each new congestion period cuts the rate by at most 1.125^5 ≈ 1.8, and
 *   between periods the rate grows by at least 0.01 packets per 10 ms (100 packets/s per second). A period starts
 *   at most every RTT + 1/(loss·rate), which gives the floor r with 0.44·r² = 100·(RTT·r + 1/loss); the bound takes
 *   a sixth of it (the loss flag skips increases, retransmissions are lost again, EXP goes back N and backs off; over
 *   4000 random cases the slowest goodput seen was a quarter of r, with small windows and 30% loss). Jitter reorders,
 *   and UDT NAKs every gap at once, so a jittery path is budgeted like 30% loss;
 * - the application's own delays; and a fixed 30 s for EXP back-off after bursts and the final ACK/close exchange.
 */
export function transferTimeBound(t: TransferShape): number {
  const packets = Math.max(1, t.packets);
  const oneWay = (l: LinkConfig) => (l.delayUs ?? 0) + (l.jitterUs ?? 0);
  const rtt = Math.max(10_000, oneWay(t.link) + oneWay(t.back)) + 10_000;
  const reorders = (t.link.jitterUs ?? 0) > 0 || (t.back.jitterUs ?? 0) > 0;
  const loss = Math.max(averageLoss(t.link), averageLoss(t.back), reorders ? 0.3 : 0.001);
  const connect = 12 * 250_000 + 4 * rtt;
  const rate = t.link.rateBps || Infinity;
  const serialize = (2 * packets * (t.payload + 44) * 8 * 1e6) / rate;
  const r = (100 * (rtt / 1e6) + Math.sqrt((100 * (rtt / 1e6)) ** 2 + (4 * 0.44 * 100) / loss)) / (2 * 0.44);
  const lossRateTime = (packets / (1 - loss) / (r / 6)) * 1e6;
  return connect + serialize + lossRateTime + (t.extraUs ?? 0) + 30_000_000;
}
