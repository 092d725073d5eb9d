// Fixed-size payload slots carved from large slabs; grows with data in flight and gives idle slabs back.

export class SlotPool {
  private slabs: (Uint8Array | null)[] = [];
  private views: Uint8Array[] = [];
  private free: number[] = [];
  private freePerSlab: number[] = [];
  private inUse = 0;

  constructor(
    readonly slotSize: number,
    readonly slotsPerSlab = 256,
  ) {}

  get slotsInUse(): number {
    return this.inUse;
  }

  get bytesAllocated(): number {
    let n = 0;
    for (const s of this.slabs) if (s) n += s.byteLength;
    return n;
  }

  /** A free slot id; its memory is `view(id)`. */
  take(): number {
    if (this.free.length === 0) this.grow();
    const id = this.free.pop()!;
    this.freePerSlab[(id / this.slotsPerSlab) | 0]--;
    this.inUse++;
    return id;
  }

  view(id: number): Uint8Array {
    return this.views[id];
  }

  give(id: number): void {
    this.free.push(id);
    this.freePerSlab[(id / this.slotsPerSlab) | 0]++;
    this.inUse--;
  }

  /** Releases wholly free slabs, keeping `keepSlabs` of them for the next burst. */
  shrink(keepSlabs = 1): void {
    let kept = 0;
    const dead = new Set<number>();
    for (let s = 0; s < this.slabs.length; s++) {
      if (this.slabs[s] && this.freePerSlab[s] === this.slotsPerSlab) {
        if (kept < keepSlabs) kept++;
        else dead.add(s);
      }
    }
    if (dead.size === 0) return;
    this.free = this.free.filter((id) => !dead.has((id / this.slotsPerSlab) | 0));
    for (const s of dead) {
      this.slabs[s] = null;
      this.freePerSlab[s] = 0;
    }
  }

  private grow(): void {
    let s = this.slabs.indexOf(null);
    if (s < 0) s = this.slabs.length;
    const slab = new Uint8Array(this.slotSize * this.slotsPerSlab);
    this.slabs[s] = slab;
    this.freePerSlab[s] = this.slotsPerSlab;
    const base = s * this.slotsPerSlab;
    for (let i = this.slotsPerSlab - 1; i >= 0; i--) {
      this.views[base + i] = slab.subarray(i * this.slotSize, (i + 1) * this.slotSize);
      this.free.push(base + i);
    }
  }
}
