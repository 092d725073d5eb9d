// Helpers for the power-of-two rings behind the send and receive buffers: sizing and re-laying columns.

export type RingColumn = Int32Array | Uint8Array | Float64Array | (Uint8Array | null)[];

/** Zero-length columns shared by every empty ring (an idle connection allocates none of its own). */
export const EMPTY_I32 = new Int32Array(0);
export const EMPTY_U8 = new Uint8Array(0);
export const EMPTY_F64 = new Float64Array(0);
export const EMPTY_REFS: (Uint8Array | null)[] = [];

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * A column of `newCap` entries holding the `count` entries that start at ring position `head` (with `mask`) in
 * order from index 0; new entries are `fill` (0 or null by default).
 */
export function relayColumn<T extends RingColumn>(col: T, head: number, mask: number, count: number, newCap: number, fill?: number): T {
  if (newCap === 0) return emptyLike(col);
  const out = (Array.isArray(col) ? new Array(newCap).fill(null) : new (col.constructor as new (n: number) => T)(newCap)) as T;
  if (fill !== undefined && !Array.isArray(out)) out.fill(fill);
  for (let i = 0; i < count; i++) out[i] = col[(head + i) & mask];
  return out;
}

function emptyLike<T extends RingColumn>(col: T): T {
  if (Array.isArray(col)) return EMPTY_REFS as T;
  if (col instanceof Int32Array) return EMPTY_I32 as T;
  return (col instanceof Uint8Array ? EMPTY_U8 : EMPTY_F64) as T;
}
