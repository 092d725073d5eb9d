// The simulator itself: link serialization, queues, MTU, loss models, duplication, event order and the trace ring.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/ts/core/rng.js';
import { Link, Network, Trace, type SimNode } from '../../src/ts/sim/index.js';

const sink = (address: string, got: Array<[number, number]>): SimNode => ({ address, receive: (now, _from, data) => got.push([now, data[0]]) });

describe('Link', () => {
  it('serializes at the bottleneck rate (payload + 28 bytes overhead) and adds the delay', () => {
    const l = new Link({ rateBps: 8e6, delayUs: 1000 }, createRng(1));
    expect(l.offer(0, 972)).toBeNull(); // (972 + 28) bytes at 1 byte/µs
    expect(l.arrivals[0]).toBe(2000);
    expect(l.offer(0, 972)).toBeNull(); // queued behind the first
    expect(l.arrivals[0]).toBe(3000);
    expect(l.queuedPackets(500)).toBe(2);
    expect(l.queuedPackets(1000)).toBe(1);
    expect(l.queuedBytes(2000)).toBe(0);
  });

  it('drops at the tail when the packet or byte limit is reached, and oversize datagrams at the MTU', () => {
    const l = new Link({ rateBps: 8e6, queuePackets: 3, queueBytes: 2500, mtu: 1000 }, createRng(1));
    expect(l.offer(0, 1001)).toBe('mtu');
    expect([l.offer(0, 900), l.offer(0, 900), l.offer(0, 900)]).toEqual([null, null, 'queue']); // bytes: 2700 > 2500
    expect(l.offer(0, 100)).toBeNull();
    expect(l.offer(0, 10)).toBe('queue'); // 4 packets > 3
    expect(l.counters).toMatchObject({ offered: 6, delivered: 3, droppedMtu: 1, droppedQueue: 2, maxQueuePackets: 3, maxQueueBytes: 1900 });
  });

  it('Bernoulli loss close to its rate; Gilbert-Elliott loss comes in bursts', () => {
    const b = new Link({ loss: 0.2 }, createRng(3));
    let lost = 0;
    for (let i = 0; i < 20000; i++) if (b.offer(i, 100)) lost++;
    expect(lost / 20000).toBeGreaterThan(0.18);
    expect(lost / 20000).toBeLessThan(0.22);
    const g = new Link({ gilbert: { pGoodToBad: 0.01, pBadToGood: 0.25 } }, createRng(3));
    const pattern: boolean[] = [];
    for (let i = 0; i < 20000; i++) pattern.push(g.offer(i, 100) !== null);
    const rate = pattern.filter(Boolean).length / pattern.length;
    expect(rate).toBeGreaterThan(0.02);
    expect(rate).toBeLessThan(0.06); // steady state 0.01 / 0.26 = 3.8%
    let afterLoss = 0;
    let lossAfterLoss = 0;
    for (let i = 1; i < pattern.length; i++) if (pattern[i - 1]) (afterLoss++, pattern[i] && lossAfterLoss++);
    expect(lossAfterLoss / afterLoss).toBeGreaterThan(0.6); // bursty: a loss is usually followed by another
  });

  it('duplicates some datagrams and jitter reorders them', () => {
    const l = new Link({ duplicate: 0.5, jitterUs: 1000 }, createRng(5));
    let twice = 0;
    let reordered = 0;
    let last = -Infinity;
    for (let i = 0; i < 1000; i++) {
      expect(l.offer(i * 10, 100)).toBeNull();
      if (l.arrivalCount === 2) twice++;
      if (l.arrivals[0] < last) reordered++;
      last = l.arrivals[0];
    }
    expect(twice).toBeGreaterThan(400);
    expect(twice).toBeLessThan(600);
    expect(reordered).toBeGreaterThan(100);
    expect(l.counters.duplicated).toBe(twice);
  });
});

describe('Network', () => {
  it('delivers in time order with a stable tie-break, and stops at the deadline or when idle', () => {
    const net = new Network({ seed: 1 });
    const got: Array<[number, number]> = [];
    net.addNode(sink('b:1', got));
    net.setLink('a:1', 'b:1', { delayUs: 100 });
    net.schedule(50, () => net.send('a:1', 'b:1', Uint8Array.of(1)));
    net.schedule(50, () => net.send('a:1', 'b:1', Uint8Array.of(2)));
    net.schedule(10, () => net.send('a:1', 'b:1', Uint8Array.of(3)));
    const early = net.run({ until: 120 });
    expect(early.end).toBe('until');
    expect(got).toEqual([[110, 3]]);
    const rest = net.run();
    expect(rest.end).toBe('idle');
    expect(got).toEqual([[110, 3], [150, 1], [150, 2]]);
  });

  it('cancelled timers never run; datagrams without a route or node are counted', () => {
    const net = new Network({ seed: 1 });
    let ran = 0;
    const t = net.schedule(10, () => ran++);
    net.cancel(t);
    net.send('a:1', 'nowhere:1', Uint8Array.of(1));
    net.setLink('a:1', 'b:9', {});
    net.send('a:1', 'b:9', Uint8Array.of(1));
    net.run();
    expect(ran).toBe(0);
    expect(net.unroutable).toBe(2);
  });

  it('the trace ring keeps the newest entries', () => {
    const tr = new Trace(3);
    for (let i = 0; i < 5; i++) tr.add(i * 1e6, 'note', 'a', 'b', null, `n${i}`);
    expect(tr.total).toBe(5);
    const lines = tr.lines();
    expect(lines.length).toBe(3);
    expect(lines[0]).toContain('(n2)');
    expect(lines[2]).toContain('(n4)');
    expect(tr.format(2)).toContain('3 earlier trace entries');
  });
});
