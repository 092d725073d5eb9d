// Small seeded PRNG (mulberry32) so every random choice in the core and simulator is reproducible.

export type Rng = () => number;

/** Uniform in [0, 1). */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random 31-bit sequence number (ISN) or positive socket id. */
export function random31(rng: Rng): number {
  return Math.floor(rng() * 0x7fffffff);
}
