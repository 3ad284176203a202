/**
 * A binary min-heap of (due time, id), earliest first; equal times in the order they were pushed
 * (a sequence number breaks ties), so messages due at once are attempted first come, first served.
 */
export interface DueItem {
  at: number;
  id: string;
}

interface Slot extends DueItem {
  seq: number;
}

export class DueHeap {
  private readonly slots: Slot[] = [];
  private seq = 0;

  get length(): number {
    return this.slots.length;
  }

  peek(): DueItem | undefined {
    return this.slots[0];
  }

  push(at: number, id: string): void {
    this.slots.push({ at, id, seq: this.seq++ });
    this.up(this.slots.length - 1);
  }

  pop(): DueItem | undefined {
    const top = this.slots[0];
    const last = this.slots.pop();
    if (top && last && this.slots.length > 0) {
      this.slots[0] = last;
      this.down(0);
    }
    return top;
  }

  private before(a: Slot, b: Slot): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(index: number): void {
    const slots = this.slots;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(slots[index], slots[parent])) return;
      [slots[index], slots[parent]] = [slots[parent], slots[index]];
      index = parent;
    }
  }

  private down(index: number): void {
    const slots = this.slots;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < slots.length && this.before(slots[left], slots[smallest])) smallest = left;
      if (right < slots.length && this.before(slots[right], slots[smallest])) smallest = right;
      if (smallest === index) return;
      [slots[index], slots[smallest]] = [slots[smallest], slots[index]];
      index = smallest;
    }
  }
}
