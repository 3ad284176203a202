/**
 * Concurrency limits: at most `total` sessions at once, and at most `perKey(key)` to one
 * destination group (RFC 5321 4.5.4.1 asks senders not to flood one host with parallel
 * connections; throttle.ts gives each provider group its own limit).
 */
export class Limiter {
  private active = 0;
  private readonly perKeyActive = new Map<string, number>();
  private readonly waiting: Array<{ key: string; wake: () => void }> = [];

  constructor(
    private readonly total: number,
    private readonly perKey: (key: string) => number,
  ) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    await this.acquire(key);
    try {
      return await task();
    } finally {
      this.release(key);
    }
  }

  private canRun(key: string): boolean {
    return this.active < this.total && (this.perKeyActive.get(key) ?? 0) < this.perKey(key);
  }

  private acquire(key: string): Promise<void> {
    if (this.canRun(key)) {
      this.take(key);
      return Promise.resolve();
    }
    return new Promise((wake) => this.waiting.push({ key, wake }));
  }

  private take(key: string): void {
    this.active++;
    this.perKeyActive.set(key, (this.perKeyActive.get(key) ?? 0) + 1);
  }

  private release(key: string): void {
    this.active--;
    const left = (this.perKeyActive.get(key) ?? 1) - 1;
    if (left === 0) this.perKeyActive.delete(key);
    else this.perKeyActive.set(key, left);
    const next = this.waiting.findIndex((entry) => this.canRun(entry.key));
    if (next >= 0) {
      const [entry] = this.waiting.splice(next, 1);
      this.take(entry.key);
      entry.wake();
    }
  }
}
