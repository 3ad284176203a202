/**
 * Copies of a message an attempt holds at its peak, counted on every thread. On the main thread:
 * the message as read (a small message comes whole with the first read; a large one is read there
 * only for a DSN or a local mailbox, counted anyway) and, per From-rewritten forward (outgoing.ts:
 * one per forwarding address), its rewritten-and-signed and its re-sealed copies. Each
 * transmission -- one per destination group, all in parallel, on a delivery worker (transmit.ts)
 * -- holds its own: the bytes handed over (structured clone copies them across the thread seam) or
 * the spool file read there. Signing adds only the DKIM-Signature header, sent in front of the
 * message, never concatenated with it.
 */
export function copiesHeld(rewrittenForwards: number, transmissions: number): number {
  return 1 + 2 * rewrittenForwards + transmissions;
}

/**
 * Bytes of spooled messages delivery holds in memory at once. An attempt reads its message whole
 * and each of its transmissions its own (copiesHeld), so without a bound 32 attempts of 20 MB
 * messages would hold well over 640 MB. Attempts wait here until their message fits; a message larger
 * than the whole budget runs when nothing else is loaded, so it is never starved. Small messages,
 * the usual case, never wait while the budget has room.
 */
export class LoadBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; wake: () => void }> = [];

  constructor(readonly limit: number) {}

  async run<T>(bytes: number, task: () => Promise<T>): Promise<T> {
    await this.acquire(bytes);
    try {
      return await task();
    } finally {
      this.release(bytes);
    }
  }

  /**
   * For a task whose cost is known only once it has begun (an attempt knows its destination
   * groups after reading its state): it calls `acquire` at most once, and whoever ran it calls
   * `release` when it ends, however it ends. One acquisition per task: no task waits while holding.
   */
  reservation(): { acquire(bytes: number): Promise<void>; release(): void } {
    let held = 0;
    let acquired = false;
    return {
      acquire: async (bytes) => {
        if (acquired) throw new Error('a reservation is acquired once');
        acquired = true;
        await this.acquire(bytes);
        held = bytes;
      },
      release: () => {
        if (held > 0) this.release(held);
        held = 0;
      },
    };
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }

  private acquire(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((wake) => this.waiting.push({ bytes, wake }));
  }

  private release(bytes: number): void {
    this.used -= bytes;
    // First come, first served: a large message at the head is not overtaken forever by small ones.
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift() as { bytes: number; wake: () => void };
      this.used += next.bytes;
      next.wake();
    }
  }
}
