// Message mode over random paths: messages arrive whole, in order where flagged; with TTL each is delivered or dropped.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { runMessageTransfer, type MessageSpec, type SimPair } from '../../src/ts/sim/index.js';
import { checkScenario, expectThat, isnArb, linkArb, optionsArb, transferTimeBound, type CaseOutcome } from './support.js';

const MAX_MESSAGE_PACKETS = 30;

const caseArb = (withTtl: boolean) =>
  fc
    .record({
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      isn: isnArb,
      link: linkArb(),
      back: linkArb(),
      options: optionsArb,
      messages: fc.array(
        fc.record({
          packets: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: MAX_MESSAGE_PACKETS }) }),
          fraction: fc.double({ min: 0, max: 1, noNaN: true }),
          ttlMs: withTtl ? fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3000 })) : fc.constant(-1),
          inOrder: fc.boolean(),
        }),
        { minLength: 0, maxLength: 300, size: 'max' },
      ),
      ownedProbability: fc.double({ min: 0, max: 1, noNaN: true }),
      transmitCapacity: fc.integer({ min: 1, max: 32 }),
    })
    .map((c) => {
      const payload = c.options.mss! - 44;
      const messages: MessageSpec[] = c.messages.map((m) => ({
        size: Math.max(1, Math.round((m.packets - 1 + m.fraction) * payload)),
        ttlMs: m.ttlMs,
        inOrder: m.inOrder,
      }));
      return { ...c, messages };
    });

type Case = ReturnType<ReturnType<typeof caseArb>['generate']>['value'];

function runCase(c: Case, withTtl: boolean): CaseOutcome {
  const payload = c.options.mss! - 44;
  const packets = c.messages.reduce((n, m) => n + Math.ceil(m.size / payload), 0);
  const bound = transferTimeBound({ packets, payload, link: c.link, back: c.back });
  let pair: SimPair | null = null;
  const r = runMessageTransfer({
    seed: c.seed,
    isn: c.isn,
    link: c.link,
    back: c.back,
    options: c.options,
    messages: c.messages,
    ownedProbability: c.ownedProbability,
    transmitCapacity: c.transmitCapacity,
    until: bound + 2 * c.options.idleTimeout! * 1000,
  });
  pair = r.pair;
  const problems: string[] = [];
  const n = c.messages.length;
  const deliveredCount = new Map<number, number>();
  for (const d of r.delivered) {
    deliveredCount.set(d.index, (deliveredCount.get(d.index) ?? 0) + 1);
    expectThat(problems, d.intact, `message ${d.index} (msgNo ${r.msgNos[d.index]}) arrived corrupted`);
    expectThat(problems, !d.inOrderViolation, `in-order message ${d.index} overtook an earlier message still pending`);
  }
  for (const [index, count] of deliveredCount) expectThat(problems, count === 1, `message ${index} delivered ${count} times`);
  expectThat(problems, r.otherEvents.length === 0, `events swallowed while reading: ${r.otherEvents.join(',')}`);
  expectThat(problems, r.unknown.length === 0, `delivered message numbers never sent: ${r.unknown.slice(0, 5).join(',')}`);
  expectThat(problems, r.msgNos.every((m) => m > 0), 'not every message was accepted by the sender');
  const dropped = new Set(r.dropped);
  expectThat(problems, dropped.size === r.dropped.length, `a message was reported dropped twice: ${r.dropped.join(',')}`);
  const indexOf = new Map(r.msgNos.map((m, i) => [m, i]));
  for (const m of dropped) {
    const i = indexOf.get(m);
    expectThat(problems, i !== undefined, `dropped message number ${m} was never sent`);
    if (i !== undefined) expectThat(problems, !deliveredCount.has(i), `message ${i} was both delivered and reported dropped`);
    if (i !== undefined) expectThat(problems, c.messages[i].ttlMs >= 0, `message ${i} without TTL was dropped`);
  }
  expectThat(problems, deliveredCount.size + dropped.size === n, `${deliveredCount.size} delivered + ${dropped.size} dropped != ${n} sent`);
  if (!withTtl) expectThat(problems, r.dropped.length === 0, `${r.dropped.length} messages dropped without TTL`);
  const client = r.pair.client;
  expectThat(problems, client.closeReason === 'local-close', `client closed with ${client.closeReason} ${client.closeError?.code ?? ''}`);
  expectThat(problems, client.closedAt >= 0 && client.closedAt <= bound, `client closed at ${client.closedAt} µs, bound ${Math.round(bound)} µs`);
  expectThat(problems, r.run.end === 'idle', `run ended '${r.run.end}' at ${r.run.now} µs`);
  expectThat(problems, r.pair.spins() === 0, `${r.pair.spins()} spins`);
  for (const v of r.pair.violations().slice(0, 5)) problems.push(`invariant: ${v}`);
  const server = r.pair.server();
  if (server) {
    const cs = client.conn.counters;
    const ss = server.conn.counters;
    expectThat(problems, ss.msgRecvDropped === dropped.size, `receiver counted ${ss.msgRecvDropped} dropped messages, reported ${dropped.size}`);
    expectThat(problems, withTtl || cs.msgSendDropped === 0, `sender dropped ${cs.msgSendDropped} messages without TTL`);
  }
  return { problems, pair, facts: { bound: Math.round(bound), delivered: deliveredCount.size, dropped: dropped.size, closedAt: client.closedAt } };
}

describe('property: message mode over a random path', () => {
  it('without TTL every message arrives once, whole, and in order where flagged', () => {
    checkScenario(caseArb(false), (c) => runCase(c, false));
  });

  it('with TTL every message is delivered whole or reported dropped, never both, never corrupted', () => {
    checkScenario(caseArb(true), (c) => runCase(c, true));
  });
});
