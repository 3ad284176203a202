import type { Origin } from '../spool/envelope';

/**
 * Copies of a message an attempt holds at its peak: the loaded message; when it is signed or its
 * From rewritten (outgoing.ts) also the signed copy and, for a rewritten forward, the rewritten and
 * re-sealed copies. A plain forward of inbound mail is sent as loaded; an unknown origin counts
 * as the most copies.
 */
export function copiesHeld(origin: Origin | undefined, rewritesFrom: boolean): number {
  return origin === 'inbound' && !rewritesFrom ? 1 : 3;
}

/**
 * Bytes of spooled messages delivery holds in memory at once. An attempt reads its message whole
 * (signing and every destination group share that one copy), so without a bound 32 attempts of
 * 20 MB messages would hold 640 MB. Attempts wait here until their message fits; a message larger
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
