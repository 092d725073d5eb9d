// Shared pieces of the simulator property tests: run counts, link/option arbitraries, and failure reports with traces.
import fc from 'fast-check';
import type { ConnectionOptions } from '../../src/ts/core/config.js';
import type { LinkConfig } from '../../src/ts/sim/index.js';
import type { SimPair } from '../../src/ts/sim/scenario.js';

/** Runs per property: UDT_PROP_RUNS overrides the default of 200. */
export const RUNS = Math.max(1, Number(process.env.UDT_PROP_RUNS ?? 200) | 0);
/** Replays one fast-check seed (as printed by a failure). */
export const SEED = process.env.UDT_PROP_SEED === undefined ? undefined : Number(process.env.UDT_PROP_SEED);
/** With UDT_PROP_SEED, the counterexample path to replay just the failing case. */
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
