// Allocation-free byte copying between Uint8Arrays (Node's native Buffer copy when present, a loop otherwise).

type CopyFn = (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

const nativeCopy: CopyFn | undefined = (globalThis as { Buffer?: { prototype: { copy: CopyFn } } }).Buffer?.prototype.copy;

/** Copies src[srcOff, srcOff+len) to dst at dstOff. */
export function copyBytes(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): void {
  if (len > 48 && nativeCopy) {
    nativeCopy.call(src, dst, dstOff, srcOff, srcOff + len);
    return;
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}

/** A buffer of `n` bytes whose contents will be overwritten (Buffer.allocUnsafe under Node). */
export function allocBytes(n: number): Uint8Array {
  const B = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer;
  return B ? B.allocUnsafe(n) : new Uint8Array(n);
}
