// Sequence, message and ACK number arithmetic around the 31-bit and 29-bit wraps (spec §8.2-8.3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msgCmp, msgInc, SEQ_MAX, seqCmp, seqDec, seqIndex, seqInc, seqLen, seqOff } from '../../src/ts/core/seq.js';

describe('31-bit sequence numbers', () => {
  it('inc and dec wrap at 0x7FFFFFFF', () => {
    expect(SEQ_MAX).toBe(0x7fffffff);
    expect(seqInc(0x7ffffffe)).toBe(0x7fffffff);
    expect(seqInc(0x7fffffff)).toBe(0);
    expect(seqInc(0x7ffffffd, 5)).toBe(2);
    expect(seqDec(0)).toBe(0x7fffffff);
    expect(seqDec(2, 5)).toBe(0x7ffffffd);
    expect(seqDec(10)).toBe(9);
  });

  it('cmp orders across the wrap', () => {
    expect(seqCmp(0, 0x7fffffff)).toBeGreaterThan(0);
    expect(seqCmp(0x7fffffff, 0)).toBeLessThan(0);
    expect(seqCmp(5, 5)).toBe(0);
    expect(seqCmp(100, 7)).toBeGreaterThan(0);
    expect(seqCmp(0x7ffffff0, 0x10)).toBeLessThan(0);
  });

  it('len counts inclusively across the wrap', () => {
    expect(seqLen(5, 5)).toBe(1);
    expect(seqLen(5, 9)).toBe(5);
    expect(seqLen(0x7fffffff, 0)).toBe(2);
    expect(seqLen(0x7ffffffe, 1)).toBe(4);
  });

  it('off is the signed distance across the wrap', () => {
    expect(seqOff(0x7fffffff, 0)).toBe(1);
    expect(seqOff(0, 0x7fffffff)).toBe(-1);
    expect(seqOff(0x7ffffff0, 0x10)).toBe(0x20);
    expect(seqOff(0x10, 0x7ffffff0)).toBe(-0x20);
    expect(seqOff(3, 10)).toBe(7);
  });

  it('seqIndex finds offsets inside a ring window only', () => {
    expect(seqIndex(0x7ffffffe, 1, 8)).toBe(3);
    expect(seqIndex(0x7ffffffe, 0x7ffffffd, 8)).toBe(-1);
    expect(seqIndex(0x7ffffffe, 6, 8)).toBe(-1);
  });

  it('inc/off/len/cmp agree for any start and distance', () => {
    const seq = fc.integer({ min: 0, max: SEQ_MAX });
    const dist = fc.integer({ min: -(2 ** 29), max: 2 ** 29 });
    fc.assert(
      fc.property(seq, dist, (a, n) => {
        const b = n >= 0 ? seqInc(a, n) : seqDec(a, -n);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(SEQ_MAX);
        expect(seqOff(a, b)).toBe(n);
        expect(seqOff(b, a)).toBe(n === 0 ? 0 : -n);
        expect(Math.sign(seqCmp(b, a))).toBe(Math.sign(n));
        if (n >= 0) expect(seqLen(a, b)).toBe(n + 1);
        expect(seqDec(seqInc(a))).toBe(a);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('29-bit message numbers', () => {
  it('start at 1 and wrap from 0x1FFFFFFE back to 1, never using 0 or 0x1FFFFFFF', () => {
    expect(msgInc(1)).toBe(2);
    expect(msgInc(0x1ffffffd)).toBe(0x1ffffffe);
    expect(msgInc(0x1ffffffe)).toBe(1);
  });

  it('msgCmp orders across the wrap', () => {
    expect(msgCmp(1, 0x1ffffffe)).toBeGreaterThan(0);
    expect(msgCmp(0x1ffffffe, 1)).toBeLessThan(0);
    expect(msgCmp(10, 3)).toBeGreaterThan(0);
  });
});
