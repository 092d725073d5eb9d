// Loss list ranges checked against a plain Set model, including ranges that straddle the 31-bit wrap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LossList } from '../../src/ts/core/loss-list.js';
import { seqCmp, seqInc, seqOff } from '../../src/ts/core/seq.js';

type Op =
  | { op: 'insert'; a: number; n: number }
  | { op: 'remove'; a: number }
  | { op: 'removeRange'; a: number; n: number }
  | { op: 'removeBefore'; a: number }
  | { op: 'popFirst' };

const WINDOW = 300;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('insert' as const), a: fc.nat(WINDOW), n: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), a: fc.nat(WINDOW) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('removeRange' as const), a: fc.nat(WINDOW), n: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeBefore' as const), a: fc.nat(WINDOW) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('popFirst' as const) }) },
);

function check(list: LossList, model: Set<number>, base: number): void {
  expect(list.size).toBe(model.size);
  const ranges = list.toRanges();
  const members: number[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const [s, e] = ranges[i];
    expect(seqCmp(s, e)).toBeLessThanOrEqual(0);
    if (i > 0) expect(seqOff(ranges[i - 1][1], s)).toBeGreaterThan(1);
    for (let x = s; ; x = seqInc(x)) {
      members.push(seqOff(base, x));
      if (x === e) break;
    }
  }
  expect(members).toEqual([...model].sort((a, b) => a - b));
  const min = model.size ? Math.min(...model) : -1;
  expect(list.first()).toBe(min < 0 ? -1 : seqInc(base, min));
}

describe('LossList', () => {
  it('matches a Set model for random operations across the wrap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x7fffffff - WINDOW - 50, max: 0x7fffffff }), fc.array(opArb, { maxLength: 60 }), (base, ops) => {
        const list = new LossList();
        const model = new Set<number>();
        const at = (o: number) => seqInc(base, o);
        for (const o of ops) {
          switch (o.op) {
            case 'insert': {
              let added = 0;
              for (let x = o.a; x <= o.a + o.n; x++) if (!model.has(x)) (model.add(x), added++);
              expect(list.insert(at(o.a), at(o.a + o.n))).toBe(added);
              break;
            }
            case 'remove':
              expect(list.remove(at(o.a))).toBe(model.delete(o.a));
              break;
            case 'removeRange': {
              let removed = 0;
              for (let x = o.a; x <= o.a + o.n; x++) if (model.delete(x)) removed++;
              expect(list.removeRange(at(o.a), at(o.a + o.n))).toBe(removed);
              break;
            }
            case 'removeBefore': {
              let removed = 0;
              for (const x of [...model]) if (x < o.a) (model.delete(x), removed++);
              expect(list.removeBefore(at(o.a))).toBe(removed);
              break;
            }
            case 'popFirst': {
              const min = model.size ? Math.min(...model) : -1;
              if (min >= 0) model.delete(min);
              expect(list.popFirst()).toBe(min < 0 ? -1 : at(min));
              break;
            }
          }
          check(list, model, base);
          for (let probe = 0; probe < 5; probe++) {
            const x = (probe * 71 + ops.length) % WINDOW;
            expect(list.has(at(x))).toBe(model.has(x));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('merges adjacent ranges and splits on removal (hand example across the wrap)', () => {
    const l = new LossList();
    expect(l.insert(0x7ffffffe, 0x7fffffff)).toBe(2);
    expect(l.insert(0, 3)).toBe(4);
    expect(l.toRanges()).toEqual([[0x7ffffffe, 3]]);
    expect(l.remove(0)).toBe(true);
    expect(l.toRanges()).toEqual([[0x7ffffffe, 0x7fffffff], [1, 3]]);
    expect(l.removeRange(0x7fffffff, 1)).toBe(2);
    expect(l.toRanges()).toEqual([[0x7ffffffe, 0x7ffffffe], [2, 3]]);
    expect(l.popFirst()).toBe(0x7ffffffe);
    expect(l.removeBefore(3)).toBe(1);
    expect(l.toRanges()).toEqual([[3, 3]]);
    expect(l.size).toBe(1);
  });

  it('keeps the older stamp when ranges merge', () => {
    const l = new LossList();
    l.insert(10, 12, 500);
    l.insert(20, 22, 100);
    l.insert(13, 19, 900);
    expect(l.toRanges()).toEqual([[10, 22]]);
    expect(l.rangeStamp(0)).toBe(100);
  });
});
