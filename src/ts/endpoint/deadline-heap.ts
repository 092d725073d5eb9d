// A binary min-heap of items keyed by their `deadline`, with in-place updates (the endpoint's one timer structure).

export interface HeapItem {
  deadline: number;
  /** Position in the heap, -1 when absent (maintained by the heap). */
  heapIndex: number;
}

export class DeadlineHeap<T extends HeapItem> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Inserts, moves or (for Infinity) removes the item so the heap reflects its new deadline. */
  update(item: T, deadline: number): void {
    item.deadline = deadline;
    if (deadline === Infinity) {
      this.remove(item);
      return;
    }
    if (item.heapIndex < 0) {
      item.heapIndex = this.items.length;
      this.items.push(item);
      this.up(item.heapIndex);
    } else {
      this.up(item.heapIndex);
      this.down(item.heapIndex);
    }
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(i);
    }
  }

  /** Removes and returns the earliest item if its deadline is at or before `now`. */
  popDue(now: number): T | undefined {
    const top = this.items[0];
    if (!top || top.deadline > now) return undefined;
    this.remove(top);
    return top;
  }

  private up(i: number): void {
    const a = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].deadline <= a[i].deadline) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l].deadline < a[m].deadline) m = l;
      if (r < a.length && a[r].deadline < a[m].deadline) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items;
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
    a[i].heapIndex = i;
    a[j].heapIndex = j;
  }
}
