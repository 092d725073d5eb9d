// Self-check of bench/linkem: traffic through the emulated link shows the configured rate, delay, queue, loss, duplication, reordering and MTU.
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildLinkem, Link, LINKEM_DIR, linkemAvailability, type DirStats } from '../../bench/linkem/linkem.js';

const availability = linkemAvailability();
if (!availability.ok) console.warn(`[linkem] skipped: ${availability.reason}`);

const PROBE = join(LINKEM_DIR, 'probe.ts');
const NAME = `lkt${process.pid % 100000}`;

interface ProbeResult {
  [key: string]: number | string | null;
}

let link: Link | undefined;

async function probe(side: 'A' | 'B', args: string[], timeoutMs: number): Promise<ProbeResult> {
  const p = link!.spawn(side, [process.execPath, '--import', 'tsx', PROBE, ...args], { timeoutMs });
  await p.exited;
  const last = p.stdout().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (!last) throw new Error(`probe ${args[0]} printed nothing: ${p.stderr()}`);
  return JSON.parse(last) as ProbeResult;
}

/** Starts a probe that listens (sink or echo) and resolves once it is bound. */
async function listener(side: 'A' | 'B', args: string[], timeoutMs: number): Promise<() => Promise<ProbeResult>> {
  const p = link!.spawn(side, [process.execPath, '--import', 'tsx', PROBE, ...args], { timeoutMs });
  const ready = await p.waitLine((t) => t.includes('"listening"'), 10_000);
  if (!ready) throw new Error(`probe ${args[0]} did not start: ${p.stderr()}`);
  return async () => {
    await p.exited;
    return JSON.parse(p.stdout().split('\n').filter((l) => l.startsWith('{')).at(-1)!) as ProbeResult;
  };
}

const CUMULATIVE: Array<keyof DirStats> = ['in', 'in_bytes', 'out', 'out_bytes', 'dropped_queue', 'dropped_loss',
  'dropped_mtu', 'dropped_pool', 'oversize', 'duplicated', 'reordered', 'write_errors', 'cpu_s'];

/** Counters accumulated between two snapshots; levels and high-water marks as of the later one. */
function delta(after: DirStats, before: DirStats): DirStats {
  const out = { ...after };
  for (const k of CUMULATIVE) out[k] = after[k] - before[k];
  return out;
}

const num = (r: ProbeResult, key: string): number => Number(r[key]);

describe.skipIf(!availability.ok)('linkem (userspace WAN emulator over TUN)', () => {
  beforeAll(() => {
    buildLinkem();
  });

  afterEach(async () => {
    await link?.down();
    link = undefined;
  });

  it('50 Mbit/s, 20 ms each way, 1% loss: delay, rate, drop-tail queue and loss as configured', async () => {
    const queueBytes = 250_000;
    link = await Link.up({
      name: NAME,
      linkemArgs: ['--rate', '50mbit', '--delay', '20ms', '--loss', '1%', '--seed', '42', '--rt-prio', '10'],
    });
    const echoDone = await listener('B', ['echo', '--port', '7001', '--seconds', '4'], 15_000);
    const rtt = await probe('A', ['rtt', '--host', link.addrB, '--port', '7001', '--count', '40', '--interval-ms', '20',
      '--size', '100', '--idle-ms', '300'], 15_000);
    await echoDone();
    expect(num(rtt, 'received')).toBeGreaterThanOrEqual(32);
    expect(num(rtt, 'minMs')).toBeGreaterThanOrEqual(40);
    expect(num(rtt, 'minMs')).toBeLessThan(43);
    expect(num(rtt, 'p25Ms')).toBeLessThan(45);

    const before = await link.snapshot();
    const sinkDone = await listener('B', ['sink', '--port', '7002', '--seconds', '15', '--idle-ms', '500'], 20_000);
    const sent = await probe('A', ['blast', '--host', link.addrB, '--port', '7002', '--rate', '80e6', '--size', '1372',
      '--seconds', '3'], 20_000);
    const sink = await sinkDone();
    const after = await link.snapshot();
    const ab = delta(after.ab, before.ab);
    console.log(`[linkem] rtt ${JSON.stringify(rtt)}\n[linkem] sink ${JSON.stringify(sink)}\n[linkem] a->b ${JSON.stringify(ab)}`);

    expect(ab.held).toBe(0);
    expect(ab.in).toBe(ab.out + ab.dropped_queue + ab.dropped_loss + ab.dropped_mtu + ab.dropped_pool - ab.duplicated);
    expect(ab.in).toBeGreaterThanOrEqual(0.98 * num(sent, 'sent'));
    expect(num(sink, 'received')).toBe(ab.out);
    expect(ab.dropped_queue).toBeGreaterThan(0.25 * ab.in);
    const lossRate = ab.dropped_loss / (ab.in - ab.dropped_queue);
    expect(lossRate).toBeGreaterThan(0.005);
    expect(lossRate).toBeLessThan(0.016);
    expect(after.ab.queue_hw_bytes).toBeLessThanOrEqual(queueBytes);
    expect(after.ab.queue_hw_bytes).toBeGreaterThan(0.9 * queueBytes);

    const mbps = ((num(sink, 'received') - 1) * 1400 * 8) / num(sink, 'spanS') / 1e6;
    expect(mbps).toBeGreaterThan(50 * 0.99 * 0.96);
    expect(mbps).toBeLessThan(50 * 0.99 * 1.04);
    // One-way delays as node sees them: lower bounds are exact; upper ones leave room for the probes' event loops.
    // Overdriven, the queue stays full after its first ~70 ms, so the median is propagation + a full queue.
    const queueMs = ((queueBytes * 8) / 50e6) * 1000;
    expect(num(sink, 'owdMinMs')).toBeGreaterThanOrEqual(20);
    expect(num(sink, 'owdP50Ms')).toBeGreaterThan(20 + 0.9 * queueMs);
    expect(num(sink, 'owdP50Ms')).toBeLessThan(20 + queueMs + 3);
  });

  it('jitter, duplication, reordering and an MTU limit are counted and seen by the receiver', async () => {
    link = await Link.up({
      name: NAME,
      linkemArgs: ['--delay', '5ms', '--jitter', '2ms', '--jitter-reorder', '1', '--dup', '5%', '--reorder', '5%',
        '--reorder-gap', '1ms', '--mtu', '1000', '--seed', '7', '--rt-prio', '10'],
    });
    const sinkDone = await listener('B', ['sink', '--port', '7003', '--seconds', '10', '--idle-ms', '700'], 15_000);
    const small = await probe('A', ['blast', '--host', link.addrB, '--port', '7003', '--rate', '10e6', '--size', '600',
      '--seconds', '1'], 15_000);
    const big = await probe('A', ['blast', '--host', link.addrB, '--port', '7003', '--rate', '1e6', '--size', '1200',
      '--seconds', '0.2'], 15_000);
    const sink = await sinkDone();
    const ab = (await link.snapshot()).ab;

    expect(ab.in).toBe(num(small, 'sent') + num(big, 'sent'));
    expect(ab.dropped_mtu).toBe(num(big, 'sent'));
    expect(ab.oversize).toBe(num(big, 'sent'));
    expect(num(sink, 'received')).toBe(ab.out);
    expect(ab.out).toBe(num(small, 'sent') + ab.duplicated);
    expect(num(sink, 'duplicates')).toBe(ab.duplicated);
    const dupRate = ab.duplicated / num(small, 'sent');
    expect(dupRate).toBeGreaterThan(0.03);
    expect(dupRate).toBeLessThan(0.07);
    expect(ab.reordered).toBeGreaterThan(0);
    expect(num(sink, 'reordered')).toBeGreaterThan(0);
    // Uniform +-2 ms around 5 ms puts the 5th percentile near 3.2 ms; scheduling noise only adds.
    expect(num(sink, 'owdMinMs')).toBeGreaterThanOrEqual(3);
    expect(num(sink, 'owdP05Ms')).toBeLessThan(4.5);
  });

  it('Gilbert-Elliott loss comes in bursts; normal jitter without reordering keeps the order', async () => {
    link = await Link.up({
      name: NAME,
      linkemArgs: ['--delay', '5ms', '--jitter', '1ms', '--jitter-dist', 'normal', '--ge', '0.01,0.25', '--seed', '3',
        '--rt-prio', '10'],
    });
    const sinkDone = await listener('B', ['sink', '--port', '7004', '--seconds', '10', '--idle-ms', '700'], 15_000);
    const sent = await probe('A', ['blast', '--host', link.addrB, '--port', '7004', '--rate', '10e6', '--size', '600',
      '--seconds', '2'], 15_000);
    const sink = await sinkDone();
    const ab = (await link.snapshot()).ab;
    console.log(`[linkem] GE sink ${JSON.stringify(sink)}`);

    expect(ab.in).toBe(num(sent, 'sent'));
    expect(num(sink, 'received')).toBe(ab.out);
    expect(num(sink, 'reordered')).toBe(0);
    expect(ab.reordered).toBe(0);
    // Stationary loss p/(p+r) = 3.8%, mean burst 1/r = 4 packets (Bernoulli at that rate: ~1.04).
    const lossRate = ab.dropped_loss / ab.in;
    expect(lossRate).toBeGreaterThan(0.015);
    expect(lossRate).toBeLessThan(0.07);
    expect(num(sink, 'lost')).toBeLessThanOrEqual(ab.dropped_loss);
    expect(num(sink, 'lost') / num(sink, 'lossBursts')).toBeGreaterThan(2);
  });
});
